/**
 * A value slot: three words inside an object's block that point at the
 * encoded value (codec.ts) in a separate heap block. Mutex, RwLock, OnceCell
 * and Arc keep their value in one. The caller provides the exclusion: a slot is
 * written only by the holder of the object's lock (or before publication) and
 * read under the same lock or after a publishing store.
 *
 * Slot words (Int32 index from the slot's base):          writer → reader
 *   +0 PTR  offset of the value block (0 = none yet)      lock holder → lock holder
 *   +1 LEN  encoded length                                lock holder → lock holder
 *   +2 CAP  fixed capacity in bytes (0 = grows on demand) creator, once → writers
 */
import type { SharedHeap } from '../shared/heap.js';
import { decodeValue, encodeValue } from './value.js';

export const SLOT_WORDS = 3;
const PTR = 0;
const LEN = 1;
const CAP = 2;

/** Initializes the slot at word `base` with `value`; `capacity` > 0 fixes its size. */
export function slotInit(heap: SharedHeap, base: number, value: unknown, capacity: number, what: string): void {
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw new RangeError(`spindle: ${what}: capacity must be a non-negative integer number of bytes (got ${capacity})`);
  }
  Atomics.store(heap.i32For((base + SLOT_WORDS) * 4), base + CAP, capacity);
  if (capacity > 0) {
    const p = heap.alloc(capacity);
    Atomics.store(heap.i32For(p), base + PTR, p);
  }
  slotWrite(heap, base, value, what);
}

/**
 * Stores `value` in the slot: in place when it fits, else in a new block.
 * Nothing changes when it throws.
 * @throws RangeError when the slot has a fixed capacity the value exceeds, or the heap is exhausted.
 */
export function slotWrite(heap: SharedHeap, base: number, value: unknown, what: string): void {
  const bytes = encodeValue(value, heap, what);
  let i32 = heap.i32For((base + SLOT_WORDS) * 4);
  const cap = Atomics.load(i32, base + CAP);
  let p = Atomics.load(i32, base + PTR);
  if (cap > 0 && bytes.length > cap) {
    throw new RangeError(
      `spindle: ${what}: value too large for its slot (${bytes.length} bytes encoded, capacity ${cap}); ` +
        'create the object with a larger { capacity }, or with capacity 0 to let the slot grow',
    );
  }
  if (p === 0 || bytes.length > heap.usableSize(p)) {
    const fresh = heap.alloc(bytes.length);
    if (p !== 0) heap.free(p);
    p = fresh;
    i32 = heap.i32For(p + bytes.length);
    Atomics.store(i32, base + PTR, p);
  }
  heap.u8For(p + bytes.length).set(bytes, p);
  Atomics.store(i32, base + LEN, bytes.length);
}

/** Decodes the slot's value (a fresh copy; shared handles come back as handles). */
export function slotRead(heap: SharedHeap, base: number): unknown {
  const i32 = heap.i32For((base + SLOT_WORDS) * 4);
  return decodeValue(heap, Atomics.load(i32, base + PTR), Atomics.load(i32, base + LEN));
}

/** Location of the encoded value, for callers that inspect it (Arc's drop). */
export function slotBytes(heap: SharedHeap, base: number): { off: number; len: number } {
  const i32 = heap.i32For((base + SLOT_WORDS) * 4);
  return { off: Atomics.load(i32, base + PTR), len: Atomics.load(i32, base + LEN) };
}

/** Frees the slot's value block. */
export function slotFree(heap: SharedHeap, base: number): void {
  const i32 = heap.i32For((base + SLOT_WORDS) * 4);
  const p = Atomics.exchange(i32, base + PTR, 0);
  if (p !== 0) heap.free(p);
}
