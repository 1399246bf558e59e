/**
 * Mutex: a value in the shared heap behind a FIFO-fair lock (ticket-lock.ts),
 * usable from the main thread (`await lock()`) and from workers (`lockSync()`).
 * Layout: MUTEX_BLOCK below.
 */
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { DeadlockError, HandleStateError, PoisonError } from './errors.js';
import { Guard, type Guarded } from './guard.js';
import { SharedObject, registerObjectKind } from './object.js';
import { SLOT_WORDS, slotFree, slotInit, slotRead, slotWrite } from './slot.js';
import { POISON, TL_WORDS, ownerOf, selfTag, tlClearPoison, tlLockAsync, tlLockBlocking, tlState, tlTryLock, tlUnlock } from './ticket-lock.js';
import { abortWith, assertMayBlock, checkSignal, type WaitOptions } from './wait.js';

const KIND = 0;
const LOCK = 1;
const SLOT = LOCK + TL_WORDS;
const WORDS = SLOT + SLOT_WORDS;
const BYTES = WORDS * 4;

export const MUTEX_BLOCK = wordTable({
  title: 'Mutex block',
  base: 'A `Mutex`\'s heap block (`src/sync/mutex.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'LOCK', at: LOCK, words: TL_WORDS, meaning: 'ticket lock (table above)', access: 'lockers ↔ lockers' },
    { name: 'SLOT', at: SLOT, words: SLOT_WORDS, meaning: 'value slot (table above)', access: 'lock holder → lock holder' },
  ],
});

/** Options for {@link Mutex}. */
export interface MutexOptions extends SharedOptions {
  /**
   * Fixed size in bytes for the encoded value. 0 (default) lets it grow (each
   * growth reallocates); a fixed capacity makes a too-large assignment a RangeError.
   */
  capacity?: number;
}

/**
 * Proof of holding a {@link Mutex}: read and write `value` through it, then
 * release it with `unlock()` or by leaving a `using` block. Releasing twice throws.
 * (The {@link Guard} class itself; the alias names its role.)
 */
export type MutexGuard<T> = Guard<T>;
/** The MutexGuard class, for `instanceof`. */
export const MutexGuard = Guard;

/**
 * A mutual-exclusion lock around a value in shared memory — Tokio's
 * `Mutex<T>`. The value is any structured-cloneable value (stored encoded) or
 * a shared handle (stored by reference). Lock it from any thread:
 *
 * ```ts
 * const counter = new Mutex(0);
 * { using g = await counter.lock(); g.value += 1; } // unlocked at the end of the block
 * ```
 *
 * Waiters are served in the order they called `lock` (FIFO). If a thread dies
 * while holding it, the next waiter recovers it and every locker gets a
 * {@link PoisonError} until {@link Mutex.clearPoison} is called.
 */
export class Mutex<T = unknown> extends SharedObject implements Guarded {
  /** Int32 index of the lock's first word. */
  readonly #lock: number;

  /** Allocates a Mutex holding `value` in `opts.heap` (default: the global heap). */
  constructor(value: T, opts?: MutexOptions);
  constructor(value: T, opts?: MutexOptions | Attach) {
    super('Mutex', BYTES, opts, (heap, off) =>
      slotInit(heap, (off >> 2) + SLOT, value, (opts as MutexOptions | undefined)?.capacity ?? 0, 'new Mutex(value)'),
    );
    this.#lock = this.w(LOCK);
  }

  #guard(held: number): MutexGuard<T> {
    if ((held & POISON) !== 0) {
      tlUnlock(this.i32, this.#lock, held);
      throw new PoisonError(
        'spindle: Mutex poisoned: a thread died while holding it, so the value may be half-updated. ' +
          'Call mutex.clearPoison() once you have decided the value is usable (then lock and repair it), or replace the Mutex.',
      );
    }
    return new Guard<T>(this, held);
  }

  /** @internal Called by the guard. */
  release(held: number): void {
    tlUnlock(this.i32, this.#lock, held);
  }
  /** @internal Called by the guard. */
  readValue(): unknown {
    return slotRead(this.heap, this.w(SLOT));
  }
  /** @internal Called by the guard. */
  writeValue(v: unknown): void {
    slotWrite(this.heap, this.w(SLOT), v, 'Mutex guard .value = v');
  }

  /**
   * Waits (without blocking the thread) until the lock is ours; FIFO among
   * waiters. With `{ signal }`, giving up is clean: the promise rejects with a
   * WaitAbortedError and the request leaves the queue (its turn passes to the
   * next waiter). Without one, a request whose promise nobody awaits any more
   * (a lost `Promise.race`) is still served: see docs/shared-state.md.
   */
  lock(opts?: WaitOptions): Promise<MutexGuard<T>> {
    try {
      this.live('lock()');
      const signal = opts === undefined ? undefined : checkSignal(opts, 'Mutex.lock()');
      const r = tlLockAsync(this.heap, this.i32, this.#lock, signal, abortWith(signal, 'Mutex.lock()'));
      // Not an async function, and no closure here: the uncontended path skips a promise and a context.
      return typeof r === 'number' ? Promise.resolve(this.#guard(r)) : this.#waited(r);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The guard of a lock() that had to wait (with the collection safety net, guard.ts). */
  #waited(r: Promise<number>): Promise<MutexGuard<T>> {
    return r.then((held) => this.#guard(held)._track());
  }

  /**
   * Blocks this thread until the lock is ours. Worker threads only: on the
   * main thread it throws {@link MainThreadBlockingError}; use `await lock()`.
   */
  lockSync(): MutexGuard<T> {
    this.live('lockSync()');
    assertMayBlock('Mutex.lockSync()');
    if (ownerOf(tlState(this.i32, this.#lock)) === selfTag) {
      throw new DeadlockError(
        'spindle: Mutex.lockSync(): this thread already holds this Mutex, so blocking for it would wait forever; release the first guard before locking again',
      );
    }
    return this.#guard(tlLockBlocking(this.heap, this.i32, this.#lock));
  }

  /** Takes the lock if it is free and nobody is queued for it; otherwise returns null at once. */
  tryLock(): MutexGuard<T> | null {
    this.live('tryLock()');
    const held = tlTryLock(this.i32, this.#lock);
    return held === undefined ? null : this.#guard(held);
  }

  /** True when a thread died holding the lock and the poison was not cleared. */
  isPoisoned(): boolean {
    this.live('isPoisoned()');
    return (tlState(this.i32, this.#lock) & POISON) !== 0;
  }

  /** Clears the poison left by a dead holder, so `lock` succeeds again. */
  clearPoison(): void {
    this.live('clearPoison()');
    tlClearPoison(this.i32, this.#lock);
  }

  protected override releaseContents(): void {
    if (ownerOf(tlState(this.i32, this.#lock)) !== 0) {
      throw new HandleStateError('spindle: Mutex.free(): the Mutex is locked; release every guard first');
    }
    slotFree(this.heap, this.w(SLOT));
  }
}

registerObjectKind('Mutex', (at) => new Mutex(undefined, at as never));
