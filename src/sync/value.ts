/**
 * How a value is stored in the shared heap: a one-byte tag, then a payload.
 * Primitives and strings take a fast path (the common case for maps and
 * mutex-protected counters: ~10x cheaper than v8.serialize); shared handles
 * are stored as a reference (kind + offset, never a copy); everything else
 * that structured clone accepts goes through v8.serialize.
 *
 *   tag  payload
 *   0    (none)             undefined
 *   1    (none)             null
 *   2/3  (none)             true / false
 *   4    8 bytes f64 LE     number
 *   5    UTF-8 bytes        string
 *   6    u32 LE offset, UTF-8 kind   shared handle (by reference: the slot does not own it)
 *   7    v8.serialize bytes anything else structured-cloneable
 */
import * as v8 from 'node:v8';
import { HeapMismatchError, SHARED, isSharedHandle, reviverFor } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_TRUE = 2;
const T_FALSE = 3;
const T_NUMBER = 4;
const T_STRING = 5;
const T_HANDLE = 6;
const T_V8 = 7;

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();
// Per-thread scratch: encodeValue's result is a view of it, valid until the next call.
let scratch = new Uint8Array(1024);
const num = new Float64Array(1);
const numBytes = new Uint8Array(num.buffer);

function room(n: number): Uint8Array {
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * Encodes `value` for storage in `heap`. Returns a view of a per-thread
 * scratch buffer, valid until the next call. `what` names the caller in errors.
 * @throws TypeError for values that cannot cross threads;
 *   HeapMismatchError for a handle whose object lives in another heap.
 */
export function encodeValue(value: unknown, heap: SharedHeap, what: string): Uint8Array {
  switch (typeof value) {
    case 'undefined':
      return room(1).subarray(0, (scratch[0] = T_UNDEFINED, 1));
    case 'boolean':
      return room(1).subarray(0, (scratch[0] = value ? T_TRUE : T_FALSE, 1));
    case 'number': {
      const b = room(9);
      b[0] = T_NUMBER;
      num[0] = value;
      b.set(numBytes, 1);
      return b.subarray(0, 9);
    }
    case 'string': {
      const b = room(1 + value.length * 3);
      b[0] = T_STRING;
      const { written } = utf8Encoder.encodeInto(value, b.subarray(1));
      return b.subarray(0, 1 + written);
    }
    case 'object':
      if (value === null) return room(1).subarray(0, (scratch[0] = T_NULL, 1));
      if (isSharedHandle(value)) {
        const ref = value[SHARED]();
        if (ref.heap.id !== heap.id) {
          throw new HeapMismatchError(
            `spindle: ${what}: this ${ref.kind} lives in another SharedHeap; a shared object can only refer to objects of its own heap (create both with the same { heap })`,
          );
        }
        const b = room(5 + ref.kind.length * 3);
        b[0] = T_HANDLE;
        new DataView(b.buffer).setUint32(1, ref.offset, true);
        const { written } = utf8Encoder.encodeInto(ref.kind, b.subarray(5));
        return b.subarray(0, 5 + written);
      }
      break;
    case 'function':
    case 'symbol':
      throw new TypeError(`spindle: ${what}: a ${typeof value} cannot be stored in shared memory (only structured-cloneable values and shared handles can)`);
  }
  let bytes: Buffer;
  try {
    bytes = v8.serialize(value);
  } catch (e) {
    throw new TypeError(
      `spindle: ${what}: value cannot be stored in shared memory (${(e as Error).message}); ` +
        'use structured-cloneable data (plain objects, arrays, Map, Date, typed arrays, ...) or a shared handle',
      { cause: e },
    );
  }
  const b = room(1 + bytes.length);
  b[0] = T_V8;
  b.set(bytes, 1);
  return b.subarray(0, 1 + bytes.length);
}

/** Decodes the `len` bytes at `off` in `heap` written from encodeValue's result. */
export function decodeValue(heap: SharedHeap, off: number, len: number): unknown {
  const u8 = heap.u8For(off + len);
  switch (u8[off]) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    case T_NUMBER:
      numBytes.set(u8.subarray(off + 1, off + 9));
      return num[0];
    case T_STRING:
      return utf8Decoder.decode(u8.subarray(off + 1, off + len));
    case T_HANDLE: {
      const r = handleRef(heap, off, len)!;
      return reviverFor(r.kind)(heap, r.offset);
    }
    case T_V8:
      // Copy out: v8.deserialize reads its input as it goes, and the bytes are shared.
      return v8.deserialize(Buffer.from(u8.slice(off + 1, off + len)));
    default:
      throw new Error(`spindle: corrupt encoded value at heap offset ${off} (tag ${u8[off]})`);
  }
}

/** When the encoded value at `off` is a shared handle, its kind and offset. */
export function handleRef(heap: SharedHeap, off: number, len: number): { kind: string; offset: number } | undefined {
  const u8 = heap.u8For(off + len);
  if (u8[off] !== T_HANDLE) return undefined;
  const offset = (u8[off + 1]! | (u8[off + 2]! << 8) | (u8[off + 3]! << 16) | (u8[off + 4]! << 24)) >>> 0;
  return { kind: utf8Decoder.decode(u8.slice(off + 5, off + len)), offset };
}
