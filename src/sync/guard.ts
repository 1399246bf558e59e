/**
 * A lock guard with a value: reads decode the protected value from the lock's
 * slot, writes re-encode it, and the lock is released exactly once (`unlock()`
 * or the end of a `using` block). `MutexGuard` and `RwLockWriteGuard` are this
 * class itself (a derived class costs ~20 ns more per construction in V8,
 * a quarter of an uncontended lock); `RwLockReadGuard` derives to be read-only.
 *
 * A guard nobody can reach any more still holds its lock. That happens when a
 * `lock()` that had to wait is raced and lost (`Promise.race([m.lock(),
 * timeout])`): the request is served later and its guard goes to nobody. Use
 * `{ signal }` for that (the request then leaves the queue). As a safety net,
 * guards handed out after a wait are registered with a FinalizationRegistry
 * and release their lock when collected — a net, not a schedule: the lock
 * stays taken until the garbage collector runs, which may be much later.
 * Guards taken at once (tryLock, an uncontended lock) are not registered (it
 * would cost more than the lock); they cannot be lost to a race.
 */
import { NotHeldError } from './errors.js';

/** Releases the lock of a registered guard that was collected unreleased. */
const lost = new FinalizationRegistry<{ lock: Guarded; held: number }>(({ lock, held }) => {
  try {
    lock.release(held);
  } catch {
    // The lock was freed meanwhile: nothing left to release.
  }
});
import type { Mutex } from './mutex.js';
import type { RwLock } from './rwlock.js';

/** What a guard needs from its lock. */
export interface Guarded {
  /** @internal Releases the lock acquired with state `held`. */
  release(held: number): void;
  /** @internal Decodes the protected value. */
  readValue(): unknown;
  /** @internal Stores a new protected value. */
  writeValue(v: unknown): void;
}

/** Guard states (one field: each field costs on the hot path of an uncontended lock). */
const HELD = 0;
const HELD_TRACKED = 1;
const RELEASED = 2;

/**
 * Proof of holding a lock ({@link Mutex} or {@link RwLock}) with access to the
 * value it protects. Release it once: `unlock()` or the end of a `using` block.
 */
export class Guard<T> implements Disposable {
  readonly #lock: Guarded;
  readonly #held: number;
  #state: number;
  #cached: { v: T } | undefined;

  /** @internal Guards are made by the lock they guard. */
  constructor(lock: Guarded, held: number) {
    this.#lock = lock;
    this.#held = held;
    this.#state = HELD;
    this.#cached = undefined;
  }

  #check(what: string): void {
    if (this.#state === RELEASED) {
      throw new NotHeldError(`spindle: ${this.#lock.constructor.name} guard .${what}: the guard was already released; lock again to use the value`);
    }
  }

  /**
   * The protected value, decoded: a copy for objects (assign `guard.value = v`
   * to store changes); repeated reads return the same copy until you assign.
   */
  get value(): T {
    this.#check('value');
    return (this.#cached ??= { v: this.#lock.readValue() as T }).v;
  }

  /** Stores a new value. @throws RangeError if it does not fit a fixed-capacity slot. */
  set value(v: T) {
    this.#check('value');
    this.checkWritable();
    this.#lock.writeValue(v);
    this.#cached = undefined;
  }

  /** Overridden by read-only guards. */
  protected checkWritable(): void {}

  /** Releases the lock. @throws NotHeldError if this guard was already released. */
  unlock(): void {
    this.#check('unlock()');
    if (this.#state === HELD_TRACKED) lost.unregister(this);
    this.#state = RELEASED;
    this.#lock.release(this.#held);
  }

  /** @internal Registers the safety net (see the module comment); returns the guard. */
  _track(): this {
    this.#state = HELD_TRACKED;
    lost.register(this, { lock: this.#lock, held: this.#held }, this);
    return this;
  }

  /** Releases the lock at the end of a `using` block. */
  [Symbol.dispose](): void {
    this.unlock();
  }
}
