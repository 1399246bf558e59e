/**
 * A lock guard with a value: reads decode the protected value from its slot,
 * writes re-encode it, and the lock is released exactly once (`unlock()` or
 * the end of a `using` block). Mutex and RwLock guards are this class.
 */
import type { SharedHeap } from '../shared/heap.js';
import { NotHeldError } from './errors.js';
import { slotRead, slotWrite } from './slot.js';

export class Guard<T> implements Disposable {
  readonly #heap: SharedHeap;
  readonly #slot: number;
  readonly #release: () => void;
  readonly #name: string;
  #released = false;
  #cached: { v: T } | undefined;

  /** @internal Guards are made by the lock they guard. */
  constructor(name: string, heap: SharedHeap, slot: number, release: () => void) {
    this.#name = name;
    this.#heap = heap;
    this.#slot = slot;
    this.#release = release;
  }

  #check(what: string): void {
    if (this.#released) {
      throw new NotHeldError(`spindle: ${this.#name}.${what}: the guard was already released; lock again to use the value`);
    }
  }

  /**
   * The protected value, decoded: a copy for objects (assign `guard.value = v`
   * to store changes); repeated reads return the same copy until you assign.
   */
  get value(): T {
    this.#check('value');
    return (this.#cached ??= { v: slotRead(this.#heap, this.#slot) as T }).v;
  }

  /** Stores a new value. @throws RangeError if it does not fit a fixed-capacity slot. */
  set value(v: T) {
    this.#check('value');
    this.checkWritable();
    slotWrite(this.#heap, this.#slot, v, `${this.#name}.value = v`);
    this.#cached = undefined;
  }

  /** Overridden by read-only guards. */
  protected checkWritable(): void {}

  /** Releases the lock. @throws NotHeldError if this guard was already released. */
  unlock(): void {
    this.#check('unlock()');
    this.#released = true;
    this.#release();
  }

  /** Releases the lock at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.unlock();
  }
}
