/**
 * What every shared object handle has in common: which heap and block it
 * names, a freed flag for this handle, `free()`, and the shared-handle
 * protocol. Subclasses describe their own block layout.
 */
import { SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';
import { ATTACH, allocBlock, attachOf, checkBlock, freeBlock, heapOf, type Attach, type KindName, type SharedOptions } from './block.js';
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
  #freed = false;

  /**
   * Attaches to the block named by `opts[ATTACH]`, or allocates a zeroed
   * block of `bytes` and runs `init(off)` on it (freeing it if init throws).
   */
  protected constructor(kind: KindName, bytes: number, opts: SharedOptions | Attach | undefined, init?: (heap: SharedHeap, off: number) => void) {
    const at = attachOf(opts);
    this.#kind = kind;
    if (at !== undefined) {
      checkBlock(at.heap, at.offset, kind);
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
    }
    this.i32 = this.heap.i32For(this.off + bytes);
  }

  /** Int32 index of word `i` of the block. */
  protected w(i: number): number {
    return (this.off >> 2) + i;
  }

  /** Throws if this handle's object was freed. */
  protected live(op: string): void {
    if (this.#freed) throw new HandleStateError(`spindle: ${this.#kind}.${op}: this ${this.#kind} was freed`);
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
    return { kind: this.#kind, heap: this.heap, offset: this.off };
  }
}

/** Registers a SharedObject kind: revived by attaching, dropped (by an owning Arc) by `free()`. */
export function registerObjectKind(kind: KindName, attach: (opts: Attach) => SharedObject): void {
  const revive = (heap: SharedHeap, offset: number): SharedObject => attach({ [ATTACH]: { heap, offset } });
  registerSharedKind(kind, revive, (heap, offset) => revive(heap, offset).free());
}
