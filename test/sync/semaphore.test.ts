import { describe, it, expect } from 'vitest';
import { threadTag } from '../../src/shared/owner-lock.js';
import { SHARED } from '../../src/shared/handle.js';
import { MAX_PERMITS, Semaphore, globalHeap } from '../../src/sync/index.js';
import { controlWords, exited, firstMessage, go, send, syncJob, STRESS, within } from '../helpers.js';

describe('Semaphore state word', () => {
  it('addPermits past the maximum is refused without ever showing CLOSED (no add-then-undo carry)', async () => {
    // The old addPermits added first and subtracted on overflow: in between, the
    // carry out of the permit bits set CLOSED for every other thread to see.
    const sem = new Semaphore(1);
    const n = STRESS ? 2_000_000 : 300_000;
    const ctl = controlWords();
    const w = syncJob('semaphoreOverflow', [send(sem)], n, ctl);
    const done = firstMessage<number>(w, 60_000);
    go(ctl);
    let sawClosed = 0;
    let finished = false;
    void done.then(() => (finished = true), () => (finished = true));
    while (!finished) {
      for (let i = 0; i < 10_000; i++) if (sem.isClosed()) sawClosed++;
      await new Promise((r) => setImmediate(r));
    }
    expect(await done).toBe(n);
    expect(sawClosed).toBe(0);
    expect(sem.isClosed()).toBe(false);
    expect(sem.availablePermits()).toBe(1);
    expect(() => sem.addPermits(MAX_PERMITS)).toThrow(RangeError);
  });
});

// A thread that dies holding permits (terminated, out of memory, process.exit in a task) must not
// shrink the semaphore for good: its ledger entry says what it held, and a waiter gives that back.
describe('Semaphore permits held by a thread that dies', () => {
  it('go back to the semaphore (a waiter finds the holder dead), except those it forgot', async () => {
    const sem = new Semaphore(4);
    const w = syncJob('semaphoreHoldAndDie', [send(sem)], 2);
    expect(await firstMessage(w)).toBe('holding');
    await exited(w);
    expect(sem.availablePermits()).toBe(1); // 1 forgotten, 2 held by the dead thread
    // A waiter for 3 sleeps, finds the holder dead at its next poll, and gets the 2 back.
    const p = await within(sem.acquire(3), 5000, 'the dead holder\'s permits');
    expect(sem.availablePermits()).toBe(0);
    p.release();
    expect(sem.availablePermits()).toBe(3); // the forgotten one stays gone
    // The blocking form recovers too.
    const again = syncJob('semaphoreHoldAndDie', [send(sem)], 1);
    expect(await firstMessage(again)).toBe('holding');
    await exited(again);
    expect(sem.availablePermits()).toBe(1);
    const taker = syncJob('semaphoreAcquireSync', [send(sem)], 2);
    expect(await within(firstMessage(taker), 5000, 'acquireSync of the dead holder\'s permit')).toBe('acquired 2');
    await exited(taker);
    expect(sem.availablePermits()).toBe(2);
    sem.free();
  });

  it('a thread that finds the ledger full holds its permits untracked: they still work', async () => {
    const sem = new Semaphore(2);
    const heap = globalHeap();
    // White-box: every ledger entry (block words 2.., [TAG, HELD]) taken by a live thread that is not this one.
    const ctl = controlWords();
    const alive = syncJob('park', [], 0, ctl);
    await within(new Promise((r) => alive.once('online', r)), 5000, 'a live worker');
    const base = (sem[SHARED]().offset >> 2) + 2;
    const other = threadTag(alive.threadId);
    for (let e = 0; e < 16; e++) Atomics.store(heap.i32, base + 2 * e, other);
    const p = sem.tryAcquire(2)!;
    expect(p).not.toBeNull();
    expect(sem.availablePermits()).toBe(0);
    for (let e = 0; e < 16; e++) expect(Atomics.load(heap.i32, base + 2 * e + 1)).toBe(0);
    p.release();
    expect(sem.availablePermits()).toBe(2);
    for (let e = 0; e < 16; e++) Atomics.store(heap.i32, base + 2 * e, 0);
    go(ctl);
    expect(await firstMessage(alive)).toBe('released');
    sem.free();
  });
});
