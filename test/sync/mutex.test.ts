import { describe, it, expect } from 'vitest';
import { SHARED } from '../../src/shared/handle.js';
import { Mutex, MainThreadBlockingError, NotHeldError, PoisonError, globalHeap, watchWorker } from '../../src/sync/index.js';
import { firstMessage, exited, within, until, STRESS, send, controlWords, syncJob, go, type SentHandle } from '../helpers.js';

const ctl = controlWords;
const job = (op: string, handles: SentHandle[], n: number, c: Int32Array) => syncJob(op, handles, n, c);

describe('Mutex', () => {
  const n = STRESS ? 1_000_000 : 100_000;
  it(`4 threads x ${n} increments under the Mutex total exactly ${4 * n}`, async () => {
    const m = new Mutex(0);
    const c = ctl();
    const ws = [0, 1, 2, 3].map((i) => job(i < 2 ? 'mutexIncSync' : 'mutexIncAsync', [send(m)], n, c));
    // FIFO hand-off with 4 threads on 2 cores convoys: ~200k ops/s here, so the stress size needs minutes.
    const done = ws.map((w) => firstMessage(w, STRESS ? 240_000 : 60_000));
    go(c);
    expect(await Promise.all(done)).toEqual(['done', 'done', 'done', 'done']);
    const g = await m.lock();
    expect(g.value).toBe(4 * n);
    g.unlock();
    m.free();
  }, STRESS ? 300_000 : 60_000);

  it('the same read-modify-write without the Mutex loses updates', async () => {
    const n = 1000;
    const c = ctl();
    const ws = [0, 1, 2, 3].map(() => job('racyInc', [], n, c));
    const done = ws.map((w) => firstMessage(w, 30_000));
    go(c);
    await Promise.all(done);
    // Each round all four read the same value before any writes: three of four updates are lost.
    expect(Atomics.load(c, 3)).toBe(n);
    expect(Atomics.load(c, 3)).toBeLessThan(4 * n);
  });

  it('hands the lock over in FIFO order', async () => {
    const m = new Mutex<string[]>([]);
    const off = m[SHARED]().offset;
    const next = () => Atomics.load(globalHeap().i32, (off >> 2) + 1) & 0xffff;
    const g = await m.lock(); // ticket 0
    const ws: ReturnType<typeof job>[] = [];
    for (let i = 1; i <= 3; i++) {
      ws.push(job('mutexAppend', [send(m)], i, ctl()));
      await until(() => next() === i + 1, 5000, `worker ${i} queued`);
    }
    const mine = m.lock(); // queued last
    g.unlock();
    const g2 = await within(mine, 5000, 'main thread gets the lock after the workers');
    expect(g2.value).toEqual(['w1', 'w2', 'w3']);
    g2.unlock();
    await Promise.all(ws.map((w) => exited(w)));
  });

  it('tryLock succeeds only when free; guards release once; lockSync refuses the main thread', async () => {
    const m = new Mutex({ hits: 1 });
    const g = m.tryLock()!;
    expect(g).not.toBeNull();
    expect(m.tryLock()).toBeNull();
    expect(g.value).toEqual({ hits: 1 });
    g.value = { hits: 2 };
    g.unlock();
    expect(() => g.unlock()).toThrow(NotHeldError);
    expect(() => g.value).toThrow(/already released/);
    expect(() => m.lockSync()).toThrow(MainThreadBlockingError);
    expect(() => m.lockSync()).toThrow(/await the async form/);
    {
      using g2 = m.tryLock()!;
      expect(g2.value.hits).toBe(2);
    }
    expect(m.tryLock()).not.toBeNull();
  });

  it('lockSync in a worker that already holds the lock throws instead of deadlocking', async () => {
    const m = new Mutex(0);
    const w = job('lockSyncTwice', [send(m)], 0, ctl());
    expect(await firstMessage(w)).toMatch(/already holds this Mutex/);
  });

  it('a fixed-capacity value that does not fit is a RangeError and the old value survives', async () => {
    const m = new Mutex('small', { capacity: 16 });
    const g = await m.lock();
    expect(() => { g.value = 'x'.repeat(100); }).toThrow(/value too large for its slot \(105 bytes encoded, capacity 16\)/);
    expect(g.value).toBe('small');
    g.unlock();
  });

  it('a worker that exits holding the lock poisons it; waiters get PoisonError instead of hanging', async () => {
    const m = new Mutex(0);
    const w = job('mutexDie', [send(m)], 0, ctl());
    watchWorker(w); // what the runtime does for its workers
    expect(await firstMessage(w)).toBe('locked');
    const waiting = m.lock(); // queued behind the dying holder
    await expect(within(waiting, 5000, 'waiter notices the dead holder')).rejects.toThrow(PoisonError);
    expect(m.isPoisoned()).toBe(true);
    await expect(m.lock()).rejects.toThrow(/clearPoison/);
    m.clearPoison();
    const g = await within(m.lock(), 5000, 'lock after clearPoison');
    expect(g.value).toBe(-1); // what the dead holder left behind
    g.unlock();
    await exited(w);
  });

  it('a worker that dies while queued does not stall the queue', async () => {
    const m = new Mutex(0);
    const g = await m.lock();
    const w = job('mutexWaitThenDie', [send(m)], 0, ctl());
    watchWorker(w);
    expect(await firstMessage(w)).toBe('queued');
    const mine = m.lock(); // behind the doomed worker
    await exited(w);
    g.unlock();
    const g2 = await within(mine, 5000, 'the dead waiter is skipped');
    expect(m.isPoisoned()).toBe(false);
    g2.unlock();
  });
});
