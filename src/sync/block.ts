/**
 * The first word of every shared object's block: a kind tag, so a handle
 * revived from `(kind, offset, generation)` can check it points at what it
 * claims; with the block's generation (heap.ts), a freed, reused or foreign
 * offset fails loudly instead of being misread.
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
  heap.zeroFresh(off, bytes);
  Atomics.store(i32, off >> 2, KIND_TAG[kind]);
  return off;
}

/**
 * Checks that `offset` is a live block of `kind` in `heap` and, when
 * `generation` is given, that it is still the block the handle was made for.
 * Returns the block's current generation.
 * @throws HandleStateError otherwise (nothing is read from the block).
 */
export function checkBlock(heap: SharedHeap, offset: number, kind: string, generation?: number): number {
  const tag = (KIND_TAG as Record<string, number>)[kind];
  if (!heap.isLive(offset) || Atomics.load(heap.i32For(offset + 4), offset >> 2) !== tag) {
    throw new HandleStateError(
      generation === undefined
        ? `spindle: offset ${offset} is not a live ${kind} in this heap (freed, dropped, or a handle from another heap/kind)`
        : `spindle: this ${kind} handle is stale: the ${kind} it named was freed (or dropped by its last Arc); a handle never reaches another object`,
    );
  }
  const now = heap.generation(offset);
  if (generation !== undefined && now !== generation) throw staleError(kind, 'receive', true);
  return now;
}

/** The error for a handle whose block has moved on (freed, maybe reused). `reused`: the block is live again. */
export function staleError(kind: string, op: string, reused: boolean): HandleStateError {
  return new HandleStateError(
    `spindle: ${kind}.${op}: this handle is stale: the ${kind} it named was freed (or dropped by its last Arc)` +
      (reused ? ', and its memory now holds another object' : '') +
      '. Keep the object alive while a handle may be used (own it with an Arc and clone() it for each user).',
  );
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
export interface AttachTo {
  heap: SharedHeap;
  offset: number;
  /** The generation the sender's handle had (undefined: adopt the block's current one). */
  generation?: number;
}
export interface Attach {
  [ATTACH]: AttachTo;
}
/** The attach request in `opts`, if any. */
export function attachOf(opts: object | undefined): AttachTo | undefined {
  return (opts as Partial<Attach> | undefined)?.[ATTACH];
}
