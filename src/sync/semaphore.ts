/**
 * Semaphore: a shared count of permits — Tokio's `Semaphore`. Acquire waits
 * until enough permits are free; a permit returns them when released or when
 * its `using` block ends; `close()` fails every waiter and future acquire.
 * Layout: SEMAPHORE_BLOCK below.
 *
 * Every change of STATE is a CAS from a value whose permit count was checked
 * (or an `or` of CLOSED): an add that overflowed the permit bits would carry
 * into CLOSED, and an add-then-undo makes that carry visible to every other
 * thread for a moment (a spurious SemaphoreClosedError) — or, with a close()
 * in between, loses the close. So addPermits checks before it adds.
 *
 * Not FIFO: a waiter takes permits when it sees enough on waking, so a big
 * `acquire(n)` can be overtaken by small ones. Permits held by a thread that
 * dies are not returned (a semaphore does not know who holds what).
 */
import { rangeError } from '../errors.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { NotHeldError, SemaphoreClosedError } from './errors.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortWith, checkSignal, retryAsync, retryBlocking, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const STATE = 1;
const WORDS = 2;
const BYTES = WORDS * 4;
const PERMITS = (1 << 30) - 1;
const CLOSED = 1 << 30;
/** Most permits a Semaphore can hold. */
export const MAX_PERMITS = PERMITS;

export const SEMAPHORE_BLOCK = wordTable({
  title: 'Semaphore block',
  base: 'A `Semaphore`\'s heap block (`src/sync/semaphore.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'STATE', at: STATE, words: 1, meaning: 'bits 0–29 available permits; bit 30 CLOSED', access: 'everyone (CAS; `or` to close) ↔ everyone' },
  ],
});

/** Gives back the permits of a registered permit that was collected unreleased (see guard.ts: the same net). */
const lost = new FinalizationRegistry<{ sem: Semaphore; n: number }>(({ sem, n }) => {
  try {
    sem.addPermits(n);
  } catch {
    // Freed or full meanwhile: nothing to give back to.
  }
});

/** Permits taken from a {@link Semaphore}; `release()` (or `using`) gives them back, once. */
export class SemaphorePermit implements Disposable {
  readonly #sem: Semaphore;
  /** How many permits this holds. */
  readonly permits: number;
  #held = true;
  #tracked = false;

  /** @internal Made by Semaphore. */
  constructor(sem: Semaphore, permits: number) {
    this.#sem = sem;
    this.permits = permits;
  }

  /** Returns the permits. @throws NotHeldError when already released or forgotten. */
  release(): void {
    if (!this.#held) throw new NotHeldError('spindle: SemaphorePermit.release(): these permits were already released (or forgotten)');
    this.#held = false;
    if (this.#tracked) lost.unregister(this);
    this.#sem.addPermits(this.permits);
  }

  /** Keeps the permits taken for good (the semaphore's capacity shrinks). */
  forget(): void {
    this.#held = false;
    if (this.#tracked) lost.unregister(this);
  }

  /** @internal A permit handed out after a wait: if nobody can reach it any more, collection gives it back. */
  _track(): this {
    this.#tracked = true;
    lost.register(this, { sem: this.#sem, n: this.permits }, this);
    return this;
  }

  /** Returns the permits at the end of a `using` block. */
  [Symbol.dispose](): void {
    if (this.#held) this.release();
  }
}

/**
 * A counting semaphore in shared memory, to bound concurrency across threads.
 *
 * ```ts
 * const slots = new Semaphore(3);
 * { using _p = await slots.acquire(); await work(); } // at most 3 at once, in any thread
 * ```
 */
export class Semaphore extends SharedObject {
  /** Allocates a Semaphore with `permits` available. */
  constructor(permits: number, opts?: SharedOptions);
  constructor(permits: number, opts?: SharedOptions | Attach) {
    super('Semaphore', BYTES, opts, (heap, off) => {
      checkCount(permits, 'new Semaphore(permits)', 0);
      Atomics.store(heap.i32For(off + BYTES), (off >> 2) + STATE, permits);
    });
  }

  #take(n: number): (s: number) => SemaphorePermit | undefined {
    return (s) => {
      if ((s & CLOSED) !== 0) throw closedError();
      if ((s & PERMITS) < n || Atomics.compareExchange(this.i32, this.w(STATE), s, s - n) !== s) return undefined;
      return new SemaphorePermit(this, n);
    };
  }

  /**
   * Waits (without blocking the thread) for `n` permits; `{ signal }` gives up
   * cleanly (a waiter holds nothing). @throws SemaphoreClosedError if closed, now or while waiting.
   */
  async acquire(n = 1, opts?: WaitOptions): Promise<SemaphorePermit> {
    this.live('acquire()');
    checkCount(n, 'Semaphore.acquire(n)', 1);
    const signal = checkSignal(opts, 'Semaphore.acquire()');
    const r = retryAsync(this.i32, this.w(STATE), this.#take(n), signal, abortWith(signal, 'Semaphore.acquire()'));
    return r instanceof Promise ? (await r)._track() : r;
  }

  /** Blocks until `n` permits are free. Worker threads only. */
  acquireSync(n = 1): SemaphorePermit {
    this.live('acquireSync()');
    checkCount(n, 'Semaphore.acquireSync(n)', 1);
    return retryBlocking(this.i32, this.w(STATE), 'Semaphore.acquireSync()', this.#take(n));
  }

  /** `n` permits if free right now, else null. @throws SemaphoreClosedError if closed. */
  tryAcquire(n = 1): SemaphorePermit | null {
    this.live('tryAcquire()');
    checkCount(n, 'Semaphore.tryAcquire(n)', 1);
    const take = this.#take(n);
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & PERMITS) < n && (s & CLOSED) === 0) return null;
      const p = take(s);
      if (p !== undefined) return p;
    }
  }

  /** Adds `n` permits (what a permit's release does) and wakes waiters. */
  addPermits(n: number): void {
    this.live('addPermits()');
    checkCount(n, 'Semaphore.addPermits(n)', 0);
    for (;;) {
      const s = Atomics.load(this.i32, this.w(STATE));
      if ((s & PERMITS) + n > PERMITS) {
        throw rangeError(`spindle: Semaphore.addPermits(${n}): more than ${PERMITS} permits in total (${s & PERMITS} available)`);
      }
      // safety: checked before adding, so the sum never carries into CLOSED; the
      // CAS fails if a close() (or anyone) changed STATE since we looked.
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, s + n) === s) break;
    }
    wake(this.i32, this.w(STATE));
  }

  /** Permits free right now. */
  availablePermits(): number {
    this.live('availablePermits()');
    return Atomics.load(this.i32, this.w(STATE)) & PERMITS;
  }

  /** Closes the semaphore: every waiting and future acquire throws {@link SemaphoreClosedError}. */
  close(): void {
    this.live('close()');
    Atomics.or(this.i32, this.w(STATE), CLOSED);
    wake(this.i32, this.w(STATE));
  }

  /** True once {@link close} was called. */
  isClosed(): boolean {
    this.live('isClosed()');
    return (Atomics.load(this.i32, this.w(STATE)) & CLOSED) !== 0;
  }
}

function checkCount(n: number, what: string, min: number): void {
  if (!Number.isInteger(n) || n < min || n > PERMITS) {
    throw rangeError(`spindle: ${what}: n must be an integer in [${min}, ${PERMITS}] (got ${n})`);
  }
}

function closedError(): SemaphoreClosedError {
  return new SemaphoreClosedError('spindle: Semaphore is closed; no permits can be acquired any more');
}

registerObjectKind('Semaphore', (at) => new Semaphore(0, at as never));
