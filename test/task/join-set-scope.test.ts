import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AtomicI32, JoinError, JoinSet, Runtime, scope } from '../../src/index.js';
import * as t from '../fixtures/channel-tasks.js';
import { rejectionOf, until, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('JoinSet', () => {
  it('joins in completion order, then undefined when empty', async () => {
    const set = new JoinSet<number>({ runtime: rt });
    // They finish in the order the test opens their turns: the reverse of the spawn order.
    const gate = new Int32Array(new SharedArrayBuffer(4));
    set.spawn(t.onTurn, gate, 3, 1);
    set.spawn(t.onTurn, gate, 2, 2);
    set.spawn(t.onTurn, gate, 1, 3);
    expect(set.len).toBe(3);
    const order = [];
    for (let turn = 1; turn <= 3; turn++) {
      Atomics.store(gate, 0, turn);
      Atomics.notify(gate, 0);
      order.push(await within(set.joinNext(), 5000, `the task of turn ${turn}`));
    }
    expect(order).toEqual([3, 2, 1]);
    expect(await set.joinNext()).toBeUndefined();
    expect(set.len).toBe(0);
    expect(await set.joinNext()).toBeUndefined();
    expect(set.tryJoinNext()).toBeUndefined();
  });

  it('10,000 finished tasks joined one by one come out once each, and the set is empty after (its done queue is cut as it goes)', async () => {
    const set = new JoinSet<number>({ runtime: rt });
    const n = 10_000;
    const handles = Array.from({ length: n }, (_, i) => set.spawn(t.after, 0, i));
    // Let them all finish first, so that the queue of finished tasks is long while it is joined.
    await until(() => handles.every((h) => h.isFinished()), 30_000, 'every task to finish');
    await new Promise(setImmediate); // (the set takes them in on a microtask after they settle)
    const seen = new Uint8Array(n);
    for (let k = 0; k < n; k++) {
      const v = set.tryJoinNext();
      expect(v, `join ${k}`).toBeDefined();
      seen[v!]++;
    }
    expect(seen.every((c) => c === 1)).toBe(true);
    expect(set.len).toBe(0);
    expect(set.tryJoinNext()).toBeUndefined();
    expect(await set.joinNext()).toBeUndefined();
  });

  it('a panic comes out of joinNext as its JoinError; the set goes on', async () => {
    const set = new JoinSet<number>({ runtime: rt });
    set.spawn(t.panicAfter, 5, 'bad');
    set.spawn(t.after, 40, 9);
    const e = (await rejectionOf(set.joinNext())) as JoinError;
    expect(e).toBeInstanceOf(JoinError);
    expect(e.isPanic()).toBe(true);
    expect((e.intoPanic() as Error).message).toBe('bad');
    expect(await set.joinNextWithId()).toMatchObject({ value: 9 });
  });

  it('owns its panics: one joined, one left in the set, and one in a scope reach no onPanic; a detached one does', async () => {
    const seen: JoinError[] = [];
    const one = new Runtime({ workers: 1, onPanic: (e) => seen.push(e) });
    const set = new JoinSet<number>({ runtime: one });
    set.spawn(t.panicAfter, 0, 'joined');
    set.spawn(t.panicAfter, 0, 'left in the set');
    expect(((await rejectionOf(set.joinNext())) as JoinError).isPanic()).toBe(true);
    await expect(scope((s) => void s.spawn(t.panicAfter, 0, 'in a scope'), { runtime: one })).rejects.toBeInstanceOf(JoinError);
    one.spawn(t.panicAfter, 0, 'detached'); // never observed: must be reported
    await within(one.shutdown(), 10_000, 'shutdown'); // reports what was never observed
    expect(seen.map((x) => (x.intoPanic() as Error).message)).toEqual(['detached']);
    expect(set.len).toBe(1);
  });

  it('abortAll cancels what runs; shutdown drains; joinAll aborts the rest when one fails', async () => {
    const flag = new AtomicI32(0);
    const started = new AtomicI32(0);
    const set = new JoinSet<string>({ runtime: rt });
    set.spawn(t.untilAborted, flag, started);
    set.spawn(t.untilAborted, flag, started);
    // Running, not queued: a queued task is cancelled without ever seeing its abort.
    await until(() => started.load() === 2, 5000, 'both tasks to start');
    set.abortAll();
    const results = await Promise.allSettled([set.joinNext(), set.joinNext()]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect(((r as PromiseRejectedResult).reason as JoinError).isCancelled()).toBe(true);
    }
    await until(() => flag.load() === 2, 5000, 'both tasks to see their abort');

    const s2 = new JoinSet<string>({ runtime: rt });
    s2.spawn(t.untilAborted, flag);
    s2.spawn(t.untilAborted, flag);
    await s2.shutdown();
    expect(s2.len).toBe(0);

    const flag3 = new AtomicI32(0);
    const s3 = new JoinSet<number>({ runtime: rt });
    s3.spawn(t.after, 5, 1);
    s3.spawn(t.panicAfter, 40, 'joinAll');
    s3.spawn(t.untilAborted as never, flag3 as never);
    const e = (await rejectionOf(s3.joinAll())) as JoinError;
    expect(e.isPanic()).toBe(true);
    expect(s3.len).toBe(0);
    await until(() => flag3.load() === 1, 5000, 'joinAll to abort the last task');
    flag.free();
    flag3.free();
    started.free();
  });

  it('Symbol.dispose aborts what is left; detachAll lets tasks run on', async () => {
    const flag = new AtomicI32(0);
    const started = new AtomicI32(0);
    {
      using set = new JoinSet<string>({ runtime: rt });
      set.spawn(t.untilAborted, flag, started);
      await until(() => started.load() === 1, 5000, 'the task to start');
    }
    started.free();
    await until(() => flag.load() === 1, 5000, 'the disposed set to abort its task');
    const set = new JoinSet<number>({ runtime: rt });
    const a = set.spawn(t.after, 20, 1);
    set.detachAll();
    expect(set.len).toBe(0);
    await until(() => a.isFinished(), 5000, 'the detached task to finish');
    flag.free();
  });

  it('works inside a task (children on the worker, completion order)', async () => {
    expect(await rt.spawn(t.joinSetInTask)).toEqual([3, 2, 1]);
  });
});

describe('scope', () => {
  it('resolves with the body once every task spawned in it is done', async () => {
    const done = new AtomicI32(0);
    const r = await scope(
      async (s) => {
        const a = s.spawn(t.after, 20, 1);
        s.spawn(t.after, 60, 2).then(() => done.add(1)); // not awaited by the body: the scope waits for it
        return (await a) + 1;
      },
      { runtime: rt },
    );
    expect(r).toBe(2);
    expect(done.load()).toBe(1);
    done.free();
  });

  it('a panic aborts the siblings and the scope rejects with that panic', async () => {
    const flag = new AtomicI32(0);
    const started = new AtomicI32(0);
    const e = (await rejectionOf(
      scope(
        async (s) => {
          s.spawn(t.untilAborted, flag, started);
          s.spawn(t.untilAborted, flag, started);
          await until(() => started.load() === 2, 5000, 'the siblings to start');
          s.spawn(t.panicAfter, 0, 'scope panic');
        },
        { runtime: rt },
      ),
    )) as JoinError;
    expect(e).toBeInstanceOf(JoinError);
    expect(e.isPanic()).toBe(true);
    expect(e.intoPanic()).toBeInstanceOf(RangeError);
    expect((e.intoPanic() as Error).message).toBe('scope panic');
    // Each sibling counts only when it sees its abort (running to its end would not).
    await until(() => flag.load() === 2, 5000, 'both siblings to see their abort');
    flag.free();
    started.free();
  });

  it('a body that throws aborts the tasks and rejects with its error; works inside a task', async () => {
    const flag = new AtomicI32(0);
    const started = new AtomicI32(0);
    await expect(
      scope(
        async (s) => {
          s.spawn(t.untilAborted, flag, started);
          await until(() => started.load() === 1, 5000, 'the task to start');
          throw new TypeError('body failed');
        },
        { runtime: rt },
      ),
    ).rejects.toThrow('body failed');
    await until(() => flag.load() === 1, 5000, 'the task to see its abort');
    expect(await rt.spawn(t.scopeInTask)).toBe(42);
    flag.free();
    started.free();
  });
});
