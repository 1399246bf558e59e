/**
 * OnceCell: a value set at most once, by whichever task gets there first —
 * Tokio's `OnceCell`. `getOrInit(fn)` runs `fn` in exactly one task at a time;
 * the others wait for its result. If `fn` throws, or its thread dies, the cell
 * is empty again and the next caller tries.
 *
 * Block layout (Int32 index from the block's first word):   writer → reader
 *   +0      kind tag                                          creator → revivers
 *   +1      STATE  0 empty, 2 set,                            initializer (CAS) → everyone
 *                  tag << 2 | 1 being initialized by the thread with that tag
 *   +2..+4  value slot (slot.ts), written once while           initializer → readers after STATE = 2
 *           initializing, read only after STATE = 2
 */
import type { Attach, SharedOptions } from './block.js';
import { OnceCellSetError } from './errors.js';
import { SharedObject, registerObjectKind } from './object.js';
import { SLOT_WORDS, slotFree, slotRead, slotWrite } from './slot.js';
import { selfTag, threadTag } from './ticket-lock.js';
import { waitChange } from './wait.js';

const STATE = 1;
const SLOT = 2;
const BYTES = (SLOT + SLOT_WORDS) * 4;
const EMPTY = 0;
const SET = 2;
const INITIALIZING = (selfTag << 2) | 1;

/**
 * A cell in shared memory that is written once and then read by everyone.
 *
 * ```ts
 * const config = new OnceCell<Config>();
 * const c = await config.getOrInit(() => loadConfig()); // loads once, across all threads
 * ```
 */
export class OnceCell<T = unknown> extends SharedObject {
  #value: { v: T } | undefined;

  /** Allocates an empty cell. */
  constructor(opts?: SharedOptions);
  constructor(opts?: SharedOptions | Attach) {
    super('OnceCell', BYTES, opts);
  }

  #state(): number {
    return Atomics.load(this.i32, this.w(STATE));
  }

  /** True once a value is set. */
  initialized(): boolean {
    return this.#state() === SET;
  }

  /** The value, or undefined while the cell is empty. */
  get(): T | undefined {
    this.live('get()');
    if (this.#state() !== SET) return undefined;
    return (this.#value ??= { v: slotRead(this.heap, this.w(SLOT)) as T }).v;
  }

  /** Sets the value. @throws OnceCellSetError if it is already set or being initialized. */
  set(value: T): void {
    this.live('set()');
    if (Atomics.compareExchange(this.i32, this.w(STATE), EMPTY, INITIALIZING) !== EMPTY) {
      throw new OnceCellSetError('spindle: OnceCell.set(): the cell already holds a value (or another task is initializing it); use get() or getOrInit()');
    }
    this.#publish(value);
  }

  #publish(value: T): void {
    try {
      slotWrite(this.heap, this.w(SLOT), value, 'OnceCell value');
    } catch (e) {
      this.#settle(EMPTY);
      throw e;
    }
    this.#settle(SET);
  }

  #settle(state: number): void {
    Atomics.store(this.i32, this.w(STATE), state);
    Atomics.notify(this.i32, this.w(STATE));
  }

  /**
   * The value, computing it with `init` if the cell is empty. Concurrent
   * callers on any thread wait for the one running `init`.
   */
  async getOrInit(init: () => T | Promise<T>): Promise<T> {
    this.live('getOrInit()');
    for (;;) {
      const s = this.#state();
      if (s === SET) return this.get() as T;
      if (s === EMPTY) {
        if (Atomics.compareExchange(this.i32, this.w(STATE), EMPTY, INITIALIZING) !== EMPTY) continue;
        let value: T;
        try {
          value = await init();
        } catch (e) {
          this.#settle(EMPTY);
          throw e;
        }
        this.#publish(value);
        return this.get() as T;
      }
      if ((await waitChange(this.i32, this.w(STATE), s)) === 'timed-out') this.#recover(s);
    }
  }

  /** An initializer whose thread died leaves the cell empty again. */
  #recover(s: number): void {
    const dead = this.heap.deadThreads().map(threadTag);
    // safety: CAS from the exact initializing state: a live initializer's publish is never undone.
    if (dead.includes(s >>> 2)) {
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, EMPTY) === s) Atomics.notify(this.i32, this.w(STATE));
    }
  }

  protected override releaseContents(): void {
    slotFree(this.heap, this.w(SLOT));
  }
}

registerObjectKind('OnceCell', (at) => new OnceCell(at as never));
