// Every waiting call takes { signal }: besides recv/send/reserve/changed (mpsc,
// select and broadcast/watch tests), a sender's closed() and JoinSet's joins.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, Barrier, JoinSet, Mutex, Notify, RwLock, Runtime, Semaphore, broadcast, mpsc, oneshot, select, watch } from '../../src/index.js';
import * as t from '../fixtures/channel-tasks.js';
import { STRESS, rejectionOf, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('closed({ signal })', () => {
  it('mpsc, oneshot and watch senders: an aborted closed() rejects with AbortedError; a later one still resolves', async () => {
    const [mtx, mrx] = mpsc.channel<number>(1);
    const [otx, orx] = oneshot<number>();
    const [wtx, wrx] = watch<number>(0);
    for (const tx of [mtx, otx, wtx]) {
      const pre = await within(rejectionOf(tx.closed({ signal: AbortSignal.abort('early') })), 5000, 'closed() with an aborted signal to reject');
      expect(pre).toBeInstanceOf(AbortedError);
      expect((pre as Error).cause).toBe('early');
      const ac = new AbortController();
      const waiting = tx.closed({ signal: ac.signal });
      ac.abort('later');
      expect(await within(rejectionOf(waiting), 5000, 'an aborted closed() to reject')).toBeInstanceOf(AbortedError);
    }
    const after = [mtx.closed(), otx.closed(), wtx.closed()];
    mrx.drop();
    orx.drop();
    wrx.drop();
    await within(Promise.all(after), 5000, 'closed() once the receivers are gone');
    mtx.drop();
    otx.drop();
    wtx.drop();
  });

  it('a signal that is not an AbortSignal is a TypeError', () => {
    const [tx, rx] = mpsc.channel<number>(1);
    return within(rejectionOf(tx.closed({ signal: {} as AbortSignal })), 5000, 'closed() with a bad signal to reject').then((e) => {
      expect(e).toBeInstanceOf(TypeError);
      tx.drop();
      rx.drop();
    });
  });
});

describe('an AbortSignal passed where { signal } belongs', () => {
  it('is a TypeError that says so, at every call that takes wait options (it used to pass for an empty options object: an abort that never took effect)', async () => {
    const signal = new AbortController().signal;
    /** What the call threw or rejected with. */
    const failure = async (f: () => unknown): Promise<unknown> => {
      try {
        await f();
      } catch (e) {
        return e;
      }
      throw new Error('expected a TypeError, but the call succeeded');
    };
    const [tx, rx] = mpsc.channel<number>(1);
    const [otx, orx] = oneshot<number>();
    const [btx, brx] = broadcast<number>(2);
    const [wtx, wrx] = watch<number>(0);
    const set = new JoinSet<number>({ runtime: rt });
    const mutex = new Mutex(0);
    const rw = new RwLock(0);
    const sem = new Semaphore(1);
    const notify = new Notify();
    const barrier = new Barrier(2);
    const as = signal as never;
    const calls: [string, () => unknown][] = [
      ['mpsc.Receiver.recv()', () => rx.recv(as)],
      ['mpsc.Sender.send()', () => tx.send(1, as)],
      ['mpsc.Sender.reserve()', () => tx.reserve(as)],
      ['mpsc.Sender.closed()', () => tx.closed(as)],
      ['oneshot.Receiver.recv()', () => orx.recv(as)],
      ['broadcast.Receiver.recv()', () => brx.recv(as)],
      ['watch.Receiver.changed()', () => wrx.changed(as)],
      ['select()', () => select({ rx }, as)],
      ['JoinSet.joinNext()', () => set.joinNext(as)],
      ['Mutex.lock()', () => mutex.lock(as)],
      ['RwLock.read()', () => rw.read(as)],
      ['RwLock.write()', () => rw.write(as)],
      ['Semaphore.acquire()', () => sem.acquire(as)],
      ['Notify.notified()', () => notify.notified(as)],
      ['Barrier.wait()', () => barrier.wait(as)],
      ['spawnWith(options, task, ...args)', () => rt.spawnWith(as, t.after, 0, 1)],
      ['map(task, inputs, options)', () => rt.map(t.after as never, [], as)],
    ];
    for (const [what, call] of calls) {
      const e = (await failure(call)) as TypeError & { code: string };
      expect(e, what).toBeInstanceOf(TypeError);
      expect(e.code, what).toBe('ERR_SPINDLE_INVALID_ARG');
      expect(e.message, what).toMatch(/takes an options object \{ .* \}, got an AbortSignal: pass \{ signal \} rather than the signal itself/);
    }
    // The ends and locks are untouched: they work as before.
    tx.send(5);
    expect(await rx.recv({ signal })).toBe(5);
    expect((await sem.acquire({ signal })).release()).toBeUndefined();
    for (const end of [tx, rx, otx, orx, btx, brx, wtx, wrx]) end.drop();
    for (const x of [mutex, rw, sem, notify, barrier]) x.free();
  });

  it('select() given one receiver instead of an object of branches says how to call it', async () => {
    const [tx, rx] = mpsc.channel<number>(1);
    const e = (await rejectionOf(select(rx as never))) as TypeError;
    expect(e).toBeInstanceOf(TypeError);
    expect(e.message).toMatch(/select\(branches\) takes an object of named branches, e\.g\. select\(\{ jobs: rx, stop: signal \}\)/);
    tx.drop();
    rx.drop();
  });
});

describe('JoinSet.joinNext({ signal })', () => {
  it('a join aborted before it starts takes nothing: the next join gets that task', async () => {
    const set = new JoinSet<number>({ runtime: rt });
    set.spawn(t.after, 0, 7);
    expect(await rejectionOf(set.joinNext({ signal: AbortSignal.abort() }))).toBeInstanceOf(AbortedError);
    expect(await rejectionOf(set.joinNextWithId({ signal: AbortSignal.abort() }))).toBeInstanceOf(AbortedError);
    expect(await within(set.joinNext(), 5000, 'the task the aborted joins left')).toBe(7);
    expect(await set.joinNext()).toBeUndefined();
  });

  const n = STRESS ? 5000 : 500;
  it(`aborted at random, ${n} tasks: every value is joined exactly once`, async () => {
    const set = new JoinSet<number>({ runtime: rt });
    for (let i = 0; i < n; i++) set.spawn(t.after, i % 3, i);
    const got: number[] = [];
    let aborted = 0;
    let seed = 777;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (;;) {
      const ac = new AbortController();
      const p = set.joinNext({ signal: ac.signal });
      const r = rand();
      if (r < 0.2) ac.abort();
      else if (r < 0.4) queueMicrotask(() => ac.abort());
      else if (r < 0.5) setImmediate(() => ac.abort());
      try {
        const v = await within(p, 10_000, 'a join');
        if (v === undefined) break;
        got.push(v);
      } catch (e) {
        if (!(e instanceof AbortedError)) throw e;
        aborted++;
      }
    }
    // A join that finds a result ready takes it before a later abort can fire, so only waits get aborted.
    expect(aborted).toBeGreaterThan(0);
    expect(got.length).toBe(n);
    expect(new Set(got).size).toBe(n);
  }, 60_000);
});
