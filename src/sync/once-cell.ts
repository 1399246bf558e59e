/**
 * OnceCell: a value set at most once, by whichever task gets there first —
 * Tokio's `OnceCell`. `getOrInit(fn)` runs `fn` in exactly one task at a time;
 * the others wait for its result. If `fn` throws, or its thread dies, the cell
 * is empty again and the next caller tries. Layout: ONCE_CELL_BLOCK below.
 */
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { OnceCellSetError } from './errors.js';
import { SharedObject, registerObjectKind } from './object.js';
import { SLOT_WORDS, slotFree, slotRead, slotWrite } from './slot.js';
import { selfTag } from './ticket-lock.js';
import { abortedError, checkSignal, waitChange, waitOrAbort, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const STATE = 1;
const SLOT = 2;
const WORDS = SLOT + SLOT_WORDS;
const BYTES = WORDS * 4;

export const ONCE_CELL_BLOCK = wordTable({
  title: 'OnceCell block',
  base: 'A `OnceCell`\'s heap block (`src/sync/once-cell.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'STATE', at: STATE, words: 1, meaning: '0 empty, 2 set, tag << 2 | 1 being initialized by the thread with that tag', access: 'initializer (CAS) → everyone' },
    { name: 'SLOT', at: SLOT, words: SLOT_WORDS, meaning: 'value slot (table above), written once while initializing, read only after STATE = 2', access: 'initializer → readers' },
  ],
});
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
    wake(this.i32, this.w(STATE));
  }

  /**
   * The value, computing it with `init` if the cell is empty. Concurrent
   * callers on any thread wait for the one running `init`. `{ signal }` lets
   * such a waiter give up; a caller running `init` itself runs it to the end
   * (pass the signal into your `init` to stop it).
   */
  async getOrInit(init: () => T | Promise<T>, opts?: WaitOptions): Promise<T> {
    this.live('getOrInit()');
    const signal = checkSignal(opts, 'OnceCell.getOrInit()');
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
      const w = waitChange(this.i32, this.w(STATE), s);
      if (w === undefined) continue;
      const how = signal === undefined ? await w : await waitOrAbort(w, signal);
      if (how === 'aborted') throw abortedError(signal!, 'OnceCell.getOrInit()');
      if (how === 'timed-out') this.#recover(s);
    }
  }

  /** An initializer whose thread died leaves the cell empty again. */
  #recover(s: number): void {
    // safety: CAS from the exact initializing state: a live initializer's publish is never undone.
    if ((s >>> 2) !== selfTag && this.heap.isTagDead(s >>> 2)) {
      if (Atomics.compareExchange(this.i32, this.w(STATE), s, EMPTY) === s) wake(this.i32, this.w(STATE));
    }
  }

  protected override releaseContents(): void {
    slotFree(this.heap, this.w(SLOT));
  }
}

registerObjectKind('OnceCell', (at) => new OnceCell(at as never));
