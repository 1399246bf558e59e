import { describe, it, expect } from 'vitest';
import { SHARED } from '../../src/shared/handle.js';
import { AtomicI32, AtomicI64, AtomicU32, Barrier, Notify, OnceCell, OnceCellSetError, globalHeap } from '../../src/sync/index.js';
import { controlWords, exited, firstMessage, go, send, syncJob, until, within } from '../helpers.js';

/** Registered-but-not-notified waiters of a Notify (white-box: word 3 of its block). */
const waitersOf = (n: Notify): number => Atomics.load(globalHeap().i32, (n[SHARED]().offset >> 2) + 3);

describe('Notify', () => {
  it('notifyOne wakes exactly one waiter; notifyWaiters wakes the rest', async () => {
    const notify = new Notify();
    const woken = new AtomicI32(0);
    const ws = [0, 1, 2].map(() => syncJob('notifiedSync', [send(notify), send(woken)]));
    await until(() => waitersOf(notify) === 3, 5000, 'three workers waiting');
    notify.notifyOne();
    expect(waitersOf(notify)).toBe(2);
    await within(Promise.race(ws.map((w) => firstMessage(w))), 5000, 'one worker woken');
    expect(woken.load()).toBe(1);
    notify.notifyWaiters();
    await Promise.all(ws.map((w) => exited(w)));
    expect(woken.load()).toBe(3);
    expect(waitersOf(notify)).toBe(0);
  });

  it('stores at most one permit when nobody waits', async () => {
    const notify = new Notify();
    notify.notifyOne();
    notify.notifyOne(); // still one permit
    await within(notify.notified(), 1000, 'permit consumed at once');
    const second = notify.notified(); // no permit left: must register and wait
    expect(waitersOf(notify)).toBe(1);
    notify.notifyWaiters(); // wakes it, stores nothing
    await within(second, 1000, 'notifyWaiters wakes the waiter');
    const third = notify.notified();
    expect(waitersOf(notify)).toBe(1);
    notify.notifyOne();
    await within(third, 1000, 'notifyOne wakes the waiter');
  });
});

describe('Barrier', () => {
  it('releases all parties together, with exactly one leader per generation', async () => {
    const rounds = 20;
    const barrier = new Barrier(5);
    const ws = [0, 1, 2, 3].map(() => syncJob('barrier', [send(barrier)], rounds));
    const results = ws.map((w) => firstMessage<number>(w));
    let mine = 0;
    for (let i = 0; i < rounds; i++) if ((await within(barrier.wait(), 10_000, `generation ${i}`)).isLeader) mine++;
    const theirs = (await Promise.all(results)).reduce((a, b) => a + b, 0);
    expect(mine + theirs).toBe(rounds);
  });

  it('does not release before n arrive', async () => {
    const barrier = new Barrier(2);
    let released = false;
    const first = barrier.wait().then((r) => { released = true; return r; });
    await new Promise((r) => setImmediate(r));
    expect(released).toBe(false);
    const second = await barrier.wait();
    const r1 = await first;
    expect([r1.isLeader, second.isLeader].sort()).toEqual([false, true]);
    expect(() => new Barrier(0)).toThrow(RangeError);
  });
});

describe('OnceCell', () => {
  it('initializes once across threads; everyone sees the same value', async () => {
    const cell = new OnceCell<string>();
    const inits = new AtomicI32(0);
    const ctl = controlWords();
    const ws = [1, 2, 3, 4].map((i) => syncJob('onceCell', [send(cell), send(inits)], i, ctl));
    const got = ws.map((w) => firstMessage<string>(w));
    go(ctl);
    const values = await Promise.all(got);
    expect(inits.load()).toBe(1);
    expect(new Set(values).size).toBe(1);
    expect(cell.get()).toBe(values[0]);
    expect(() => cell.set('again')).toThrow(OnceCellSetError);
  });

  it('a failed initializer leaves the cell empty for the next caller', async () => {
    const cell = new OnceCell<number>();
    expect(cell.get()).toBeUndefined();
    await expect(cell.getOrInit(() => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(cell.initialized()).toBe(false);
    expect(await cell.getOrInit(async () => 5)).toBe(5);
    expect(await cell.getOrInit(() => 6)).toBe(5);
  });
});

describe('AtomicI32 / AtomicU32 / AtomicI64', () => {
  it('add/sub from 4 threads lose nothing', async () => {
    const a = new AtomicI32();
    const b = new AtomicU32(100);
    const c = new AtomicI64(2n ** 40n);
    const ctl = controlWords();
    const n = 10_000;
    const ws = [0, 1, 2, 3].map(() => syncJob('atomics', [send(a), send(b), send(c)], n, ctl));
    const done = ws.map((w) => firstMessage(w));
    go(ctl);
    await Promise.all(done);
    expect(a.load()).toBe(4 * n);
    expect(b.load()).toBe((100 - 4 * n + 2 ** 32) % 2 ** 32); // wraps like u32
    expect(c.load()).toBe(2n ** 40n + BigInt(12 * n));
  });

  it('compareExchange/exchange return the previous value; out-of-range values are RangeErrors', () => {
    const a = new AtomicI32(5);
    expect(a.compareExchange(5, 6)).toBe(5);
    expect(a.compareExchange(5, 7)).toBe(6);
    expect(a.exchange(1)).toBe(6);
    expect(a.add(2)).toBe(1);
    expect(a.sub(1)).toBe(3);
    expect(() => a.store(2 ** 31)).toThrow(/does not fit its slot/);
    expect(() => new AtomicU32(-1)).toThrow(RangeError);
    expect(() => new AtomicI64(2n ** 63n)).toThrow(RangeError);
    expect(() => new AtomicI64(1 as never)).toThrow(RangeError);
    a.free();
    expect(() => a.load()).toThrow(/freed/);
  });
});
