/**
 * What every shared object handle has in common: which heap and block it
 * names, a freed flag for this handle, `free()`, and the shared-handle
 * protocol. Subclasses describe their own block layout.
 */
import { SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';
import { ATTACH, allocBlock, attachOf, checkBlock, freeBlock, heapOf, staleError, type Attach, type KindName, type SharedOptions } from './block.js';
import { HandleStateError } from './errors.js';

/** Base of every shared object handle except Arc/Weak (which count references instead of being freed). */
export abstract class SharedObject implements SharedHandle {
  /** Heap the block lives in. */
  protected readonly heap: SharedHeap;
  /** Byte offset of the block. */
  protected readonly off: number;
  /** Int32 view covering the block. */
  protected readonly i32: Int32Array;
  readonly #kind: KindName;
  /** The block's generation this handle was made for, and where the block keeps its current one. */
  readonly #gen: number;
  readonly #genAt: number;
  #freed = false;

  /**
   * Attaches to the block named by `opts[ATTACH]`, or allocates a zeroed
   * block of `bytes` and runs `init(off)` on it (freeing it if init throws).
   */
  protected constructor(kind: KindName, bytes: number, opts: SharedOptions | Attach | undefined, init?: (heap: SharedHeap, off: number) => void) {
    const at = attachOf(opts);
    this.#kind = kind;
    if (at !== undefined) {
      this.#gen = checkBlock(at.heap, at.offset, kind, at.generation);
      this.heap = at.heap;
      this.off = at.offset;
    } else {
      this.heap = heapOf(opts as SharedOptions | undefined);
      this.off = allocBlock(this.heap, kind, bytes);
      try {
        init?.(this.heap, this.off);
      } catch (e) {
        freeBlock(this.heap, this.off, kind);
        throw e;
      }
      this.#gen = this.heap.generation(this.off);
    }
    this.i32 = this.heap.i32For(this.off + bytes);
    this.#genAt = (this.off >> 2) - 1;
  }

  /** Int32 index of word `i` of the block. */
  protected w(i: number): number {
    return (this.off >> 2) + i;
  }

  /**
   * Throws unless this handle's object is still there: not freed through this
   * handle, and its block still in the generation the handle was made for
   * (freed through another handle or an Arc, maybe reused: refused, never misread).
   */
  protected live(op: string): void {
    // A plain read, not Atomics.load: free() bumps the generation with a plain
    // write too (heap.ts), and an atomic load here measurably slows every
    // operation (it blocks optimizations around it). A use that races with the
    // free on another thread is a race either way; a use after a free this
    // thread has heard of (by any synchronization) sees the new generation.
    if (this.i32[this.#genAt] !== this.#gen || this.#freed) this.#stale(op);
  }

  #stale(op: string): never {
    if (this.#freed) throw new HandleStateError(`spindle: ${this.#kind}.${op}: this ${this.#kind} was freed`);
    throw staleError(this.#kind, op, this.heap.isLive(this.off));
  }

  /** Frees what the block points at (value slots, tables) before the block goes. */
  protected releaseContents(): void {}

  /**
   * Frees the object. Only its last user may call it; prefer letting an
   * {@link Arc} own it, which frees it on the last drop.
   */
  free(): void {
    this.live('free()');
    this.releaseContents();
    this.#freed = true;
    freeBlock(this.heap, this.off, this.#kind);
  }

  /** The shared-handle protocol: crosses threads as (kind, offset) and arrives as the same object. */
  [SHARED](): SharedRef {
    this.live('send');
    return { kind: this.#kind, heap: this.heap, offset: this.off, generation: this.#gen };
  }
}

/** Registers a SharedObject kind: revived by attaching, dropped (by an owning Arc) by `free()`. */
export function registerObjectKind(kind: KindName, attach: (opts: Attach) => SharedObject): void {
  const revive = (heap: SharedHeap, offset: number, generation?: number): SharedObject => attach({ [ATTACH]: { heap, offset, generation } });
  registerSharedKind(kind, revive, (heap, offset, generation) => revive(heap, offset, generation).free());
}
