import { describe, it, expect } from 'vitest';
import { SHARED } from '../../src/shared/handle.js';
import { AtomicI32, AtomicI64, AtomicU32, Barrier, Notify, OnceCell, OnceCellSetError, globalHeap } from '../../src/sync/index.js';
import { MAX_NOTIFY_WAITERS, notifyWord } from '../../src/sync/notify.js';
import { controlWords, exited, firstMessage, go, send, syncJob, until, within } from '../helpers.js';

/** Registered-but-not-notified waiters of a Notify (white-box: its STATE word). */
const waitersOf = (n: Notify): number => n._state().waiters;
/** Arrivals in a Barrier's current generation (white-box: the low half of its STATE word, block words 2-3). */
const arrivalsOf = (b: Barrier): number => Number(BigInt.asUintN(32, Atomics.load(globalHeap().i64, (b[SHARED]().offset >> 3) + 1)));

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

// A thread can die (terminate(), out of memory) anywhere in a Notify or Barrier call. Their state
// is one word changed by compareExchange, so the only step a death can split is the one between
// a transition and the wake-up of the sleepers it concerns (the mid-sync-wake fault point).
describe('a thread that dies in a Notify or a Barrier', () => {
  it('after notifyOne, before the wake-up: the waiter still gets the notification', async () => {
    const notify = new Notify();
    const woken = notify.notified();
    expect(waitersOf(notify)).toBe(1);
    const dying = syncJob('notifyDie', [send(notify)]);
    expect(await within(exited(dying), 10_000, 'the worker to die at the fault point')).toBe(70);
    // The transition happened whole: the registration became a token (nobody bumped GEN for it),
    // which the waiter may already have claimed at a poll while the worker was exiting.
    const after = notify._state();
    expect(after).toMatchObject({ waiters: 0, permit: false });
    expect([0, 1]).toContain(after.tokens);
    await within(woken, 5000, 'the waiter to see its token at its next poll');
    expect(notify._state()).toMatchObject({ waiters: 0, tokens: 0, permit: false });
    // And the Notify works on.
    const next = notify.notified();
    notify.notifyOne();
    await within(next, 1000, 'a later notification');
  });

  it('after notifyWaiters, before the wake-up: every waiter (async and blocked) is woken', async () => {
    const notify = new Notify();
    const count = new AtomicI32(0);
    const blocked = syncJob('notifiedSync', [send(notify), send(count)]);
    const mine = notify.notified();
    await until(() => waitersOf(notify) === 2, 5000, 'both waiters registered');
    const dying = syncJob('notifyDie', [send(notify)], 1);
    expect(await within(exited(dying), 10_000, 'the worker to die at the fault point')).toBe(70);
    await within(mine, 5000, 'the async waiter');
    expect(await within(firstMessage(blocked), 5000, 'the blocked waiter')).toBe('woken');
    expect(count.load()).toBe(1);
    expect(notify._state()).toMatchObject({ waiters: 0, tokens: 0, permit: false });
  });

  it('as the leader, after completing the generation, before the wake-up: the other parties go on, and the next generation works', async () => {
    const barrier = new Barrier(3);
    const blocked = syncJob('barrier', [send(barrier)], 2);
    const mine = barrier.wait();
    await until(() => arrivalsOf(barrier) === 2, 5000, 'two parties arrived');
    const dying = syncJob('barrierLeaderDie', [send(barrier)]);
    expect(await within(exited(dying), 10_000, 'the worker to die at the fault point')).toBe(70);
    expect((await within(mine, 5000, 'this thread released')).isLeader).toBe(false);
    expect(arrivalsOf(barrier)).toBeLessThanOrEqual(1); // the blocked worker may already be in the next generation
    // Next generation: this thread, the blocked worker's second round, and one more.
    const third = syncJob('barrier', [send(barrier)], 1);
    const r = await within(barrier.wait(), 5000, 'the next generation');
    const leaders = (r.isLeader ? 1 : 0) + (await firstMessage<number>(blocked)) + (await firstMessage<number>(third));
    expect(leaders).toBe(1);
  });
});

describe('Notify and Barrier at the edges of their state words', () => {
  // White-box: STATE is block words 2-3 (BigInt64 index offset/8 + 1).
  const stateAt = (h: Notify | Barrier): number => (h[SHARED]().offset >> 3) + 1;

  it('a Notify epoch that wraps still wakes the waiters of the old one; the waiter bound is a RangeError', async () => {
    const notify = new Notify();
    const i64 = globalHeap().i64;
    const last = 2 ** 23 - 1;
    Atomics.store(i64, stateAt(notify), notifyWord({ permit: false, waiters: 0, tokens: 0, epoch: last })); // the last epoch
    const woken = notify.notified();
    expect(notify._state()).toMatchObject({ waiters: 1, epoch: last });
    notify.notifyWaiters();
    expect(notify._state()).toMatchObject({ waiters: 0, epoch: 0 });
    await within(woken, 1000, 'the waiter of the epoch before the wrap');
    Atomics.store(i64, stateAt(notify), notifyWord({ permit: true, waiters: MAX_NOTIFY_WAITERS - 1, tokens: 1, epoch: 5 }));
    expect(notify._state()).toEqual({ permit: true, waiters: MAX_NOTIFY_WAITERS - 1, tokens: 1, epoch: 5 });
    await within(notify.notified(), 1000, 'the permit'); // taken, not a registration
    expect(notify._state()).toEqual({ permit: false, waiters: MAX_NOTIFY_WAITERS - 1, tokens: 1, epoch: 5 }); // at the bound
    await expect(notify.notified()).rejects.toThrow(RangeError);
    expect(notify._state()).toEqual({ permit: false, waiters: MAX_NOTIFY_WAITERS - 1, tokens: 1, epoch: 5 }); // nothing changed
    notify.free();
  });

  it('a Barrier generation that wraps releases its parties', async () => {
    const barrier = new Barrier(2);
    const i64 = globalHeap().i64;
    Atomics.store(i64, stateAt(barrier), BigInt.asIntN(64, 0xffffffffn << 32n)); // the last generation
    const first = barrier.wait();
    expect(arrivalsOf(barrier)).toBe(1);
    const second = await within(barrier.wait(), 1000, 'the second party');
    expect([second.isLeader, (await within(first, 1000, 'the first party')).isLeader].sort()).toEqual([false, true]);
    expect(Atomics.load(i64, stateAt(barrier))).toBe(0n); // generation 0, nobody arrived
    barrier.free();
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
