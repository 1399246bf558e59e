/**
 * The first word of every shared object's block: a kind tag, so a handle
 * revived from `(kind, offset)` can check it points at what it claims, and a
 * freed or foreign offset fails loudly instead of corrupting memory.
 */
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import { HandleStateError } from './errors.js';

/** Kind tags (word 0 of each object's block). Weak shares Arc's block. */
export const KIND_TAG = {
  Arc: 0x53500001,
  Mutex: 0x53500002,
  RwLock: 0x53500003,
  Semaphore: 0x53500004,
  Notify: 0x53500005,
  Barrier: 0x53500006,
  OnceCell: 0x53500007,
  AtomicI32: 0x53500008,
  AtomicU32: 0x53500009,
  AtomicI64: 0x5350000a,
  SharedMap: 0x5350000b,
} as const;

export type KindName = keyof typeof KIND_TAG;

/** Allocates a zeroed block of `bytes` tagged `kind`; returns its offset. */
export function allocBlock(heap: SharedHeap, kind: KindName, bytes: number): number {
  const off = heap.alloc(bytes);
  const i32 = heap.i32For(off + bytes);
  // safety: the block is not yet reachable by any other thread; the tag store
  // is the last write, and publication (a message, a slot store) happens after.
  heap.u8For(off + bytes).fill(0, off, off + bytes);
  Atomics.store(i32, off >> 2, KIND_TAG[kind]);
  return off;
}

/** Throws unless `offset` is a live block of `kind` in `heap`. */
export function checkBlock(heap: SharedHeap, offset: number, kind: KindName): void {
  if (!heap.isLive(offset) || Atomics.load(heap.i32For(offset + 4), offset >> 2) !== KIND_TAG[kind]) {
    throw new HandleStateError(
      `spindle: offset ${offset} is not a live ${kind} in this heap (freed, dropped, or a handle from another heap/kind)`,
    );
  }
}

/** Clears the tag and frees the block: a stale handle then fails checkBlock instead of reading garbage. */
export function freeBlock(heap: SharedHeap, offset: number, kind: KindName): void {
  checkBlock(heap, offset, kind);
  Atomics.store(heap.i32For(offset + 4), offset >> 2, 0);
  heap.free(offset);
}

/** The heap an object is created in: the one given, else the process-wide heap. */
export function heapOf(opts: { heap?: SharedHeap } | undefined): SharedHeap {
  return opts?.heap ?? globalHeap();
}

/** Options every shared object's constructor takes. */
export interface SharedOptions {
  /** Heap to allocate in (default: `globalHeap()`, the one a spawn can carry). */
  heap?: SharedHeap;
}

/**
 * Constructor option that attaches a wrapper to an existing block instead of
 * creating one (how revivers build handles). Not exported from the package.
 */
export const ATTACH: unique symbol = Symbol('spindle.attach');
export interface Attach {
  [ATTACH]: { heap: SharedHeap; offset: number };
}
/** The attach request in `opts`, if any. */
export function attachOf(opts: object | undefined): { heap: SharedHeap; offset: number } | undefined {
  return (opts as Partial<Attach> | undefined)?.[ATTACH];
}
