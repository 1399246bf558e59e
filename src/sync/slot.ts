/**
 * A value slot: three words inside an object's block that point at the
 * encoded value (the value codec, src/shared/codec.ts: `encodeStored`) in a
 * separate heap block. Mutex, RwLock, OnceCell and Arc keep their value in
 * one. The caller provides the exclusion: a slot is written only by the holder
 * of the object's lock (or before publication) and read under the same lock or
 * after a publishing store. Layout: VALUE_SLOT below.
 */
import { decodeStored, encodeStored } from '../shared/codec.js';
import { copyBytes, type SharedHeap } from '../shared/heap.js';
import { wordTable } from '../shared/word-table.js';
import { rangeError } from '../errors.js';

const PTR = 0;
const LEN = 1;
const CAP = 2;
export const SLOT_WORDS = 3;

export const VALUE_SLOT = wordTable({
  title: 'Value slot',
  base: 'Inside a Mutex, RwLock, OnceCell or Arc block (`src/sync/slot.ts`), from the slot\'s first word',
  unit: 'word',
  size: SLOT_WORDS,
  rows: [
    { name: 'PTR', at: PTR, words: 1, meaning: 'offset of the heap block holding the encoded value (0 = none yet)', access: 'lock holder → lock holder' },
    { name: 'LEN', at: LEN, words: 1, meaning: 'encoded length in bytes', access: 'lock holder → lock holder' },
    { name: 'CAP', at: CAP, words: 1, meaning: 'fixed capacity in bytes (0 = grows on demand)', access: 'creator, once → writers' },
  ],
  note: 'The value block holds the value as the value codec writes it (`encodeStored`, tags above); a shared handle in it is a reference that the slot does not own.',
});

/** Initializes the slot at word `base` with `value`; `capacity` > 0 fixes its size. */
export function slotInit(heap: SharedHeap, base: number, value: unknown, capacity: number, what: string): void {
  if (!Number.isInteger(capacity) || capacity < 0) {
    throw rangeError(`spindle: ${what}: capacity must be a non-negative integer number of bytes (got ${capacity})`);
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
  const bytes = encodeStored(value, heap, what);
  let i32 = heap.i32For((base + SLOT_WORDS) * 4);
  const cap = Atomics.load(i32, base + CAP);
  let p = Atomics.load(i32, base + PTR);
  if (cap > 0 && bytes.length > cap) {
    throw rangeError(
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
  copyBytes(heap.u8For(p + bytes.length), p, bytes, 0, bytes.length);
  Atomics.store(i32, base + LEN, bytes.length);
}

/** Decodes the slot's value (a fresh copy; shared handles come back as handles). */
export function slotRead(heap: SharedHeap, base: number): unknown {
  const i32 = heap.i32For((base + SLOT_WORDS) * 4);
  return decodeStored(heap, Atomics.load(i32, base + PTR), Atomics.load(i32, base + LEN));
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
