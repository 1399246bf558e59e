import { describe, it, expect } from 'vitest';
import { MAX_PERMITS, Semaphore } from '../../src/sync/index.js';
import { controlWords, firstMessage, go, send, syncJob, STRESS } from '../helpers.js';

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
