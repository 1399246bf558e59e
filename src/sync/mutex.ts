/**
 * Mutex: a value in the shared heap behind a FIFO-fair lock (ticket-lock.ts),
 * usable from the main thread (`await lock()`) and from workers (`lockSync()`).
 *
 * Block layout (Int32 index from the block's first word):   writer → reader
 *   +0        kind tag (block.ts)                              creator → revivers
 *   +1..+18   ticket lock (ticket-lock.ts)                     lockers ↔ lockers
 *   +19..+21  value slot (slot.ts)                             lock holder → lock holder
 */
import { SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';
import { ATTACH, allocBlock, attachOf, checkBlock, freeBlock, heapOf, type Attach, type SharedOptions } from './block.js';
import { HandleStateError, PoisonError } from './errors.js';
import { Guard, type Guarded } from './guard.js';
import { SLOT_WORDS, slotFree, slotInit, slotRead, slotWrite } from './slot.js';
import { POISON, TL_WORDS, ownerOf, selfTag, tlClearPoison, tlLockAsync, tlLockBlocking, tlState, tlTryLock, tlUnlock } from './ticket-lock.js';
import { assertMayBlock } from './wait.js';

const LOCK = 1;
const SLOT = LOCK + TL_WORDS;
const BYTES = (SLOT + SLOT_WORDS) * 4;

/** Options for {@link Mutex}. */
export interface MutexOptions extends SharedOptions {
  /**
   * Fixed size in bytes for the encoded value. 0 (default) lets it grow (each
   * growth reallocates); a fixed capacity makes a too-large assignment a RangeError.
   */
  capacity?: number;
}

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
export class Mutex<T = unknown> implements SharedHandle, Guarded {
  readonly #heap: SharedHeap;
  readonly #off: number;
  readonly #i32: Int32Array;
  readonly #lock: number;
  #freed = false;

  /** Allocates a Mutex holding `value` in `opts.heap` (default: the global heap). */
  constructor(value: T, opts?: MutexOptions);
  constructor(value: T, opts?: MutexOptions | Attach) {
    const at = attachOf(opts);
    this.#heap = at?.heap ?? heapOf(opts as MutexOptions);
    if (at !== undefined) {
      checkBlock(at.heap, at.offset, 'Mutex');
      this.#off = at.offset;
    } else {
      this.#off = allocBlock(this.#heap, 'Mutex', BYTES);
      try {
        slotInit(this.#heap, (this.#off >> 2) + SLOT, value, (opts as MutexOptions | undefined)?.capacity ?? 0, 'new Mutex(value)');
      } catch (e) {
        freeBlock(this.#heap, this.#off, 'Mutex');
        throw e;
      }
    }
    this.#i32 = this.#heap.i32For(this.#off + BYTES);
    this.#lock = (this.#off >> 2) + LOCK;
  }

  #live(op: string): void {
    if (this.#freed) throw new HandleStateError(`spindle: Mutex.${op}: this Mutex was freed`);
  }

  #guard(held: number): MutexGuard<T> {
    if ((held & POISON) !== 0) {
      tlUnlock(this.#i32, this.#lock, held);
      throw new PoisonError(
        'spindle: Mutex poisoned: a thread died while holding it, so the value may be half-updated. ' +
          'Call mutex.clearPoison() once you have decided the value is usable (then lock and repair it), or replace the Mutex.',
      );
    }
    return new MutexGuard<T>(this, held);
  }

  /** @internal Called by the guard. */
  release(held: number): void {
    tlUnlock(this.#i32, this.#lock, held);
  }
  /** @internal Called by the guard. */
  readValue(): unknown {
    return slotRead(this.#heap, (this.#off >> 2) + SLOT);
  }
  /** @internal Called by the guard. */
  writeValue(v: unknown, what: string): void {
    slotWrite(this.#heap, (this.#off >> 2) + SLOT, v, what);
  }

  /** Waits (without blocking the thread) until the lock is ours; FIFO among waiters. */
  lock(): Promise<MutexGuard<T>> {
    try {
      this.#live('lock()');
      const r = tlLockAsync(this.#heap, this.#i32, this.#lock);
      // Not an async function: the uncontended path skips one promise.
      return typeof r === 'number' ? Promise.resolve(this.#guard(r)) : r.then((held) => this.#guard(held));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Blocks this thread until the lock is ours. Worker threads only: on the
   * main thread it throws {@link MainThreadBlockingError}; use `await lock()`.
   */
  lockSync(): MutexGuard<T> {
    this.#live('lockSync()');
    assertMayBlock('Mutex.lockSync()');
    if (ownerOf(tlState(this.#i32, this.#lock)) === selfTag) {
      throw new Error(
        'spindle: Mutex.lockSync(): this thread already holds this Mutex, so blocking for it would wait forever; release the first guard before locking again',
      );
    }
    return this.#guard(tlLockBlocking(this.#heap, this.#i32, this.#lock));
  }

  /** Takes the lock if it is free and nobody is queued for it; otherwise returns null at once. */
  tryLock(): MutexGuard<T> | null {
    this.#live('tryLock()');
    const held = tlTryLock(this.#i32, this.#lock);
    return held === undefined ? null : this.#guard(held);
  }

  /** True when a thread died holding the lock and the poison was not cleared. */
  isPoisoned(): boolean {
    return (tlState(this.#i32, this.#lock) & POISON) !== 0;
  }

  /** Clears the poison left by a dead holder, so `lock` succeeds again. */
  clearPoison(): void {
    tlClearPoison(this.#i32, this.#lock);
  }

  /**
   * Frees the Mutex and its value. Only the last user may call it (prefer
   * wrapping it in an {@link Arc}, which frees it on the last drop).
   * @throws Error while it is locked.
   */
  free(): void {
    this.#live('free()');
    if (ownerOf(tlState(this.#i32, this.#lock)) !== 0) {
      throw new Error('spindle: Mutex.free(): the Mutex is locked; release every guard first');
    }
    this.#freed = true;
    dropMutex(this.#heap, this.#off);
  }

  /** The shared-handle protocol: a Mutex crosses threads as (kind, offset). */
  [SHARED](): SharedRef {
    this.#live('send');
    return { kind: 'Mutex', heap: this.#heap, offset: this.#off };
  }
}

/**
 * Proof of holding a {@link Mutex}: read and write `value` through it, then
 * release it with `unlock()` or by leaving a `using` block. Releasing twice throws.
 */
export class MutexGuard<T> extends Guard<T> {}

function dropMutex(heap: SharedHeap, offset: number): void {
  checkBlock(heap, offset, 'Mutex');
  slotFree(heap, (offset >> 2) + SLOT);
  freeBlock(heap, offset, 'Mutex');
}

registerSharedKind('Mutex', (heap, offset) => new Mutex(undefined, { [ATTACH]: { heap, offset } } as never), dropMutex);
