/**
 * The overflow: main-thread tasks waiting for a free slot, first in first out,
 * so that `spawn` never blocks and never drops.
 *
 * Kept as columns (typed arrays of code ids, payload offsets and lengths, and
 * one array of handles) with every payload back to back in one arena, instead
 * of one object and one buffer per task: 100,000 queued tasks are then a few
 * large objects, not 200,000 small ones the young-generation GC has to copy.
 *
 * Only the main thread touches it (no atomics).
 */
import type { JoinHandle } from '../join.js';

export class Overflow {
  #code: Int32Array = new Int32Array(1024);
  #at: Int32Array = new Int32Array(1024);
  #len: Int32Array = new Int32Array(1024);
  #handles: (JoinHandle<unknown> | undefined)[] = [];
  #head = 0;
  #tail = 0;
  #arena: Uint8Array = new Uint8Array(1 << 16);
  #arenaUsed = 0;

  /** Tasks waiting. */
  get size(): number {
    return this.#tail - this.#head;
  }

  /** Appends a task: its code id, its encoded payload `src[0, len)`, its handle. */
  push(code: number, src: Uint8Array, len: number, h: JoinHandle<unknown>): void {
    if (this.#tail === this.#code.length) this.#growColumns();
    if (this.#arenaUsed + len > this.#arena.length) this.#growArena(this.#arenaUsed + len);
    const arena = this.#arena;
    const at = this.#arenaUsed;
    if (len <= 64) {
      // A loop beats creating a subarray view (an allocation) for the few bytes most tasks carry.
      for (let k = 0; k < len; k++) arena[at + k] = src[k]!;
    } else {
      arena.set(src.subarray(0, len), at);
    }
    const k = this.#tail++;
    this.#code[k] = code;
    this.#at[k] = this.#arenaUsed;
    this.#len[k] = len;
    this.#handles[k] = h;
    this.#arenaUsed += len;
  }

  /** The first task's handle (call only when `size > 0`). */
  headHandle(): JoinHandle<unknown> {
    return this.#handles[this.#head]!;
  }

  /** The first task's code id. */
  headCode(): number {
    return this.#code[this.#head]!;
  }

  /** The arena the payloads live in, for `headAt`/`headLen`. */
  get arena(): Uint8Array {
    return this.#arena;
  }

  /** Where the first task's payload starts in {@link arena}. */
  headAt(): number {
    return this.#at[this.#head]!;
  }

  /** The first task's payload length. */
  headLen(): number {
    return this.#len[this.#head]!;
  }

  /** Removes the first task; once empty, everything is reused from the start. */
  shift(): void {
    this.#handles[this.#head++] = undefined;
    // Every entry is undefined now: the handles array is kept, not regrown from [] by the next burst.
    if (this.#head === this.#tail) this.#head = this.#tail = this.#arenaUsed = 0;
  }

  /** Every handle still waiting, oldest first. */
  *handles(): IterableIterator<JoinHandle<unknown>> {
    for (let k = this.#head; k < this.#tail; k++) yield this.#handles[k]!;
  }

  /** Forgets every waiting task (they were settled by the caller). */
  clear(): void {
    this.#head = this.#tail = 0;
    this.#arenaUsed = 0;
    this.#handles = [];
  }

  #growColumns(): void {
    // Move the live part to the front first: a long-lived overflow that is
    // drained and refilled does not grow without bound.
    const live = this.#tail - this.#head;
    const size = live * 2 > this.#code.length ? this.#code.length * 2 : this.#code.length;
    const grow = (a: Int32Array): Int32Array => {
      const b = size === a.length ? a : new Int32Array(size);
      b.set(a.subarray(this.#head, this.#tail), 0);
      return b;
    };
    this.#code = grow(this.#code);
    this.#at = grow(this.#at);
    this.#len = grow(this.#len);
    this.#handles = this.#handles.slice(this.#head, this.#tail);
    this.#head = 0;
    this.#tail = live;
  }

  #growArena(need: number): void {
    let size = this.#arena.length * 2;
    while (size < need) size *= 2;
    const arena = new Uint8Array(size);
    arena.set(this.#arena.subarray(0, this.#arenaUsed));
    this.#arena = arena;
  }
}
