import { describe, it, expect } from 'vitest';
import { SHARED } from '../../src/shared/handle.js';
import { AtomicI32, Barrier, MainThreadBlockingError, NotHeldError, PoisonError, RwLock, Semaphore, SemaphoreClosedError, globalHeap } from '../../src/sync/index.js';
import { controlWords, exited, firstMessage, go, rejectionOf, send, syncJob, until, within, STRESS } from '../helpers.js';

describe('RwLock', () => {
  it('lets readers in together', async () => {
    const rw = new RwLock(7);
    const barrier = new Barrier(3);
    const ws = [0, 1, 2].map(() => syncJob('rwReaders', [send(rw), send(barrier)]));
    // Each reader holds its read lock while waiting for the other two: only shared access passes.
    expect(await within(Promise.all(ws.map((w) => firstMessage(w))), 10_000, 'three readers inside at once')).toEqual([7, 7, 7]);
  });

  it('keeps writers exclusive from readers and each other', async () => {
    const n = STRESS ? 100_000 : 10_000;
    const rw = new RwLock(0);
    const active = new AtomicI32(0);
    const bad = new AtomicI32(0);
    const ctl = controlWords();
    const ws = [0, 1, 2, 3].map(() => syncJob('rwMix', [send(rw), send(active), send(bad)], n, ctl));
    const done = ws.map((w) => firstMessage(w, 30_000));
    go(ctl);
    await Promise.all(done);
    expect(bad.load()).toBe(0);
    const r = await rw.read();
    expect(r.value).toBe(4 * (n / 4));
    r.unlock();
  });

  it('prefers a waiting writer over new readers', async () => {
    const rw = new RwLock(1);
    const r = await rw.read();
    const w = syncJob('rwWrite', [send(rw)]);
    // Once the writer waits, a new reader is refused even though only readers hold the lock.
    await until(() => {
      const g = rw.tryRead();
      g?.unlock();
      return g === null;
    }, 5000, 'writer registered as waiting');
    expect(rw.tryWrite()).toBeNull();
    r.unlock();
    expect(await firstMessage(w)).toBe('wrote');
    const r2 = await rw.read();
    expect(r2.value).toBe(99);
    expect(() => { (r2 as { value: number }).value = 1; }).toThrow(/read-only/);
    r2.unlock();
    expect(() => r2.unlock()).toThrow(NotHeldError);
    expect(() => rw.readSync()).toThrow(MainThreadBlockingError);
    expect(() => rw.writeSync()).toThrow(MainThreadBlockingError);
  });
});

// A thread that dies holding an RwLock (terminated, out of memory, process.exit in a task): its
// ledger entry says what it held, and a waiter undoes it (src/sync/holders.ts).
describe('RwLock held by a thread that dies', () => {
  /** RwLock STATE (white-box: block word 1). */
  const stateOf = (rw: RwLock<number>): number => Atomics.load(globalHeap().i32, (rw[SHARED]().offset >> 2) + 1);

  it('a dead reader lets a writer in, without poison', async () => {
    const rw = new RwLock(1);
    const w = syncJob('rwReadAndDie', [send(rw)]);
    expect(await firstMessage(w)).toBe('holding');
    await exited(w);
    expect(rw.tryWrite()).toBeNull(); // the dead reader still counts until a waiter looks
    const g = await within(rw.write(), 5000, 'the write lock after the reader died');
    g.value = 2;
    g.unlock();
    expect(rw.isPoisoned()).toBe(false);
    rw.free();
  });

  it('a dead writer poisons it: every locker gets a PoisonError until clearPoison()', async () => {
    const rw = new RwLock(1);
    const w = syncJob('rwWriteAndDie', [send(rw)], 5);
    expect(await firstMessage(w)).toBe('holding');
    await exited(w);
    const e = await within(rejectionOf(rw.read()), 5000, 'the read to see the dead writer');
    expect(e).toBeInstanceOf(PoisonError);
    expect(rw.isPoisoned()).toBe(true);
    expect(() => rw.tryRead()).toThrow(PoisonError);
    await expect(rw.write()).rejects.toThrow(PoisonError);
    rw.clearPoison();
    const r = rw.tryRead()!;
    expect(r.value).toBe(5); // what the writer stored before it died
    r.unlock();
    expect(stateOf(rw)).toBe(0); // nothing held, no writer waiting, no poison
    rw.free();
  });

  it('a writer that dies waiting no longer holds readers back', async () => {
    const rw = new RwLock(1);
    const mine = await rw.read();
    const w = syncJob('rwWriteSync', [send(rw)]);
    expect(await firstMessage(w)).toBe('waiting');
    await until(() => (stateOf(rw) >>> 24 & 0x3f) === 1, 5000, 'the worker to wait as a writer');
    await w.terminate();
    mine.unlock();
    // Writer-preferring: a new reader holds back while a writer waits, until a waiter finds it dead.
    const r = await within(rw.read(), 5000, 'a read after the waiting writer died');
    expect(r.value).toBe(1);
    r.unlock();
    expect(stateOf(rw)).toBe(0);
    rw.free();
  });
});

describe('Semaphore', () => {
  it('never lets more than 3 holders in at once across 4 threads', async () => {
    const sem = new Semaphore(3);
    const active = new AtomicI32(0);
    const max = new AtomicI32(0);
    const ctl = controlWords();
    const n = STRESS ? 50_000 : 5_000;
    const ws = [0, 1, 2, 3].map(() => syncJob('semaphore', [send(sem), send(active), send(max)], n, ctl));
    const done = ws.map((w) => firstMessage(w, 30_000));
    go(ctl);
    await Promise.all(done);
    expect(max.load()).toBeGreaterThanOrEqual(1);
    expect(max.load()).toBeLessThanOrEqual(3);
    expect(sem.availablePermits()).toBe(3);
  });

  it('acquire(n), tryAcquire, release once, close wakes waiters with an error', async () => {
    const sem = new Semaphore(2);
    const p = await sem.acquire(2);
    expect(sem.tryAcquire()).toBeNull();
    const waiting = sem.acquire(1);
    p.release();
    expect(() => p.release()).toThrow(NotHeldError);
    const p2 = await within(waiting, 5000, 'waiter gets a released permit');
    expect(sem.availablePermits()).toBe(1);
    {
      using _q = sem.tryAcquire()!;
      expect(sem.availablePermits()).toBe(0);
    }
    expect(sem.availablePermits()).toBe(1);
    p2.release();
    const all = await sem.acquire(2);
    const blocked = sem.acquire(1);
    sem.close();
    await expect(within(blocked, 5000, 'close wakes the waiter')).rejects.toThrow(SemaphoreClosedError);
    expect(() => sem.tryAcquire()).toThrow(/closed/);
    all.release();
    expect(() => sem.acquireSync()).toThrow(MainThreadBlockingError);
    await expect(sem.acquire(0)).rejects.toThrow(RangeError);
  });
});
