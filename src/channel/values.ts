/**
 * How channel values are written into and read from the shared heap: with the
 * runtime's codec (`Encoder.encodeValue` / `Decoder.decodeValue`), exactly as
 * task arguments are. Shared handles inside a value travel as handles (an Arc
 * or a channel end is moved into the channel), SharedArrayBuffers as the same
 * memory (named through this thread's runtime registry).
 */
import { BufferView, Decoder, ENCODE_BY_NODE, Encoder, NOT_LATIN1, type SabTable } from '../shared/codec.js';
import { RELEASE, SHARED, isOwned, isSharedHandle } from '../shared/handle.js';
import { copyBytes, type SharedHeap } from '../shared/heap.js';
import { threadSabs } from '../shared/sabs.js';
import { ErrorCode, typeError } from '../errors.js';

const sabTable: SabTable = {
  idOf(sab) {
    const t = threadSabs();
    if (t === undefined) {
      throw typeError(
        'spindle: a SharedArrayBuffer can be sent through a channel only on a thread of a runtime (the main thread once a Runtime exists, or a runtime worker)',
        ErrorCode.NOT_SENDABLE,
      );
    }
    return t.idOf(sab);
  },
  get(id) {
    const t = threadSabs();
    if (t === undefined) throw new Error(`spindle: SharedArrayBuffer #${id} arrived on a thread that belongs to no runtime`);
    return t.get(id);
  },
};

/** This thread's encoder for channel values (its output is valid until the next encode). */
export const enc = new Encoder(sabTable);
const dec = new Decoder(sabTable);

/** Encodes `v` (commits moved handles); returns the byte count in `enc.buf`. `what` names the call in errors. */
export function encode(v: unknown, what: string): number {
  return enc.encodeValue(v, what);
}

/**
 * An Int32 view of the encoder's buffer, and the byte array it views (the encoder replaces
 * `enc.buf` when it grows). Compared by identity: reading `.buffer` is a runtime call.
 */
let encWords = new Int32Array(enc.buf.buffer);
let encWordsOf = enc.buf;

/**
 * Copies the last encoding into the heap at byte `at`: four bytes at a time
 * where `at` is 4-aligned (a slot's or a block's payload always is), the last
 * 0–3 bytes one by one, nothing past `n` (a block may end there). Long ones
 * through `set`. An 80-byte small object took 54 ns through `subarray` and
 * `set` (a view allocated per message), 16 ns this way.
 */
export function copyEncoded(heap: SharedHeap, at: number, n: number): void {
  const b = enc.buf;
  if (n > 256) {
    heap.u8For(at + n).set(b.subarray(0, n), at);
    return;
  }
  const u8 = heap.u8For(at + n);
  let i = 0;
  if ((at & 3) === 0) {
    if (encWordsOf !== b) {
      encWords = new Int32Array(b.buffer);
      encWordsOf = b;
    }
    const w = encWords;
    const h32 = heap.i32For(at + n);
    const base = at >> 2;
    const words = n >> 2;
    for (let k = 0; k < words; k++) h32[base + k] = w[k]!;
    i = words << 2;
  }
  for (; i < n; i++) u8[at + i] = b[i]!;
}

/** Decodes the value whose encoding starts at byte `at` of the heap (and ends by `end`). */
export function decodeAt(heap: SharedHeap, at: number, end: number): unknown {
  return dec.decodeValue(heap.u8For(end), heap.dvFor(end), at);
}

/**
 * This thread's private copy of an encoding, for readers that must copy before they may decode:
 * a broadcast receiver validates its copy against the slot's sequence afterwards (a seqlock), a
 * watch reader copies under the lock and decodes after it. One buffer and its view, grown when
 * needed, instead of a view, a subarray and a DataView per message (each a runtime call).
 */
let scratch = new Uint8Array(256);
let scratchDv = new DataView(scratch.buffer);

/**
 * Copies `n` bytes of the heap from byte `from` into the scratch. A torn read may give any
 * `from` and `n`: the copy stays inside the heap (the caller's validation then discards it).
 */
export function copyToScratch(heap: SharedHeap, from: number, n: number): void {
  if (scratch.length < n) {
    scratch = new Uint8Array(Math.max(n, scratch.length * 2));
    scratchDv = new DataView(scratch.buffer);
  }
  const u8 = heap.u8For(from + n);
  const start = from < 0 ? 0 : from;
  copyBytes(scratch, 0, u8, start, Math.min(from + n, u8.length) - start);
}

/** Decodes the encoding {@link copyToScratch} copied. */
export function decodeScratch(): unknown {
  return dec.decodeValue(scratch, scratchDv, 0);
}

/**
 * Broadcast and watch values are read by many receivers, so they cannot own
 * anything: a handle that moves (an Arc, a Weak, a channel end) would be owned
 * by every reader at once. Throws a TypeError naming where one is.
 */
export function assertNothingOwned(v: unknown, what: string): void {
  // A primitive (most values) owns nothing: no Set, no walk.
  if (typeof v !== 'object' || v === null) return;
  const seen = new Set<object>();
  // The path to the offending handle is a stack of parts, joined only for the error.
  const path: string[] = [];
  const walk = (x: unknown): void => {
    if (typeof x !== 'object' || x === null || seen.has(x)) return;
    seen.add(x);
    if (isSharedHandle(x)) {
      const ref = x[SHARED]();
      if (ref.commit !== undefined || ref.kind.includes('.')) {
        const at = path.join('');
        throw typeError(
          `spindle: ${what}${at ? ` (at ${at})` : ''} is a ${ref.kind}, which has one owner; every receiver of a ` +
            'broadcast or watch channel reads the same value, so it cannot carry one. Send the handle through an mpsc or oneshot channel instead.',
          ErrorCode.NOT_SENDABLE,
        );
      }
      return;
    }
    const into = (part: string, y: unknown): void => {
      if (typeof y !== 'object' || y === null) return;
      path.push(part);
      walk(y);
      path.pop();
    };
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) if (typeof x[i] === 'object') into(`[${i}]`, x[i]);
    } else if (x instanceof Map) {
      let i = 0;
      for (const [k, val] of x) {
        into(`.<map key ${i}>`, k);
        into(`.<map value ${i++}>`, val);
      }
    } else if (x instanceof Set) {
      let i = 0;
      for (const val of x) into(`.<set item ${i++}>`, val);
    } else if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) {
      for (const k of Object.keys(x)) {
        const y = (x as Record<string, unknown>)[k];
        if (typeof y === 'object') into(`.${k}`, y);
      }
    }
  };
  walk(v);
}

// ───────────────────────── the primitive fast path ─────────────────────────
//
// Numbers, booleans, null/undefined and short Latin-1 strings are most of what
// channels carry. Their encodings are tiny and fixed, so a channel writes them
// straight into a slot, and reads them straight back, without going through
// the Encoder/Decoder objects — but in the codec's own format: the tags and
// layouts below are taken from the codec when this module loads (and the fast
// path turns itself off if they are not the ones it expects), so a value
// written here decodes with Decoder.decodeValue and vice versa.

function sample(v: unknown): Uint8Array {
  const n = enc.encodeValue(v, 'sample');
  return enc.buf.slice(0, n);
}
const sInt = sample(-2);
const sFloat = sample(0.5);
const sStr = sample('ab');
const sTrue = sample(true);
const sFalse = sample(false);
const sNull = sample(null);
const sUndef = sample(undefined);
const T_INT = sInt[0]!;
const T_FLOAT = sFloat[0]!;
const T_STR8 = sStr[0]!;
const T_TRUE = sTrue[0]!;
const T_FALSE = sFalse[0]!;
const T_NULL = sNull[0]!;
const T_UNDEFINED = sUndef[0]!;
const f64 = new Float64Array(1);
const f64b = new Uint8Array(f64.buffer);
f64[0] = 0.5;
/** The fast path is on only if the codec lays these values out as expected. */
export const FAST =
  sInt.length === 5 &&
  new DataView(sInt.buffer).getInt32(1, true) === -2 &&
  sFloat.length === 9 &&
  sFloat.subarray(1).every((b, i) => b === f64b[i]) &&
  sStr.length === 7 &&
  new DataView(sStr.buffer).getUint32(1, true) === 2 &&
  sStr[5] === 97 &&
  sStr[6] === 98 &&
  sTrue.length === 1 &&
  sFalse.length === 1 &&
  sNull.length === 1 &&
  sUndef.length === 1 &&
  new Set([T_INT, T_FLOAT, T_STR8, T_TRUE, T_FALSE, T_NULL, T_UNDEFINED]).size === 7;

/**
 * A slot's string is read through Node's latin1 codec (C++) past this many
 * characters: below, the concatenation here is cheaper (past it, 554 ns
 * against 132 for 59 characters). Written through it past ENCODE_BY_NODE, as
 * the codec does.
 */
const READ_BY_NODE = 10;
/** The heap's memory as a Node Buffer (nearly always the same heap). */
const view = new BufferView();

/**
 * Writes a primitive's encoding at `u8[at]` (at most `room` bytes); returns
 * its length, or -1 when `v` is not a fast-path value (an object, a long or
 * non-Latin-1 string) and must go through `encode`.
 */
export function writeFast(v: unknown, u8: Uint8Array, at: number, room: number): number {
  if (!FAST) return -1;
  switch (typeof v) {
    case 'number':
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        u8[at] = T_INT;
        u8[at + 1] = v & 0xff;
        u8[at + 2] = (v >> 8) & 0xff;
        u8[at + 3] = (v >> 16) & 0xff;
        u8[at + 4] = (v >> 24) & 0xff;
        return 5;
      }
      f64[0] = v;
      u8[at] = T_FLOAT;
      for (let i = 0; i < 8; i++) u8[at + 1 + i] = f64b[i]!;
      return 9;
    case 'string': {
      const n = v.length;
      if (n + 5 > room) return -1;
      const p = at + 5;
      if (n > ENCODE_BY_NODE) {
        if (NOT_LATIN1.test(v)) return -1;
        view.of(u8).write(v, p, 'latin1');
      } else {
        for (let i = 0; i < n; i++) {
          const c = v.charCodeAt(i);
          if (c > 0xff) return -1;
          u8[p + i] = c;
        }
      }
      u8[at] = T_STR8;
      u8[at + 1] = n & 0xff;
      u8[at + 2] = (n >> 8) & 0xff;
      u8[at + 3] = 0;
      u8[at + 4] = 0;
      return n + 5;
    }
    case 'boolean':
      u8[at] = v ? T_TRUE : T_FALSE;
      return 1;
    case 'undefined':
      u8[at] = T_UNDEFINED;
      return 1;
    case 'object':
      if (v === null) {
        u8[at] = T_NULL;
        return 1;
      }
      return -1;
    default:
      return -1;
  }
}

/** What readFast returns for an encoding it does not handle (decode it with decodeAt). */
export const NOT_FAST: unique symbol = Symbol('spindle.notFast');

/** Reads a fast-path encoding of `len` bytes at `u8[at]`, or NOT_FAST. */
export function readFast(u8: Uint8Array, at: number, len: number): unknown {
  if (!FAST) return NOT_FAST;
  const tag = u8[at];
  if (tag === T_INT && len === 5) return u8[at + 1]! | (u8[at + 2]! << 8) | (u8[at + 3]! << 16) | (u8[at + 4]! << 24);
  if (tag === T_STR8 && len <= 64) {
    const n = len - 5;
    if (n > READ_BY_NODE) return view.of(u8).toString('latin1', at + 5, at + 5 + n);
    // String.fromCharCode on a short subarray is slower than building it here.
    let s = '';
    for (let i = 0; i < n; i++) s += String.fromCharCode(u8[at + 5 + i]!);
    return s;
  }
  if (tag === T_FLOAT && len === 9) {
    for (let i = 0; i < 8; i++) f64b[i] = u8[at + 1 + i]!;
    return f64[0];
  }
  if (len === 1) {
    if (tag === T_TRUE) return true;
    if (tag === T_FALSE) return false;
    if (tag === T_NULL) return null;
    if (tag === T_UNDEFINED) return undefined;
  }
  return NOT_FAST;
}

// ───────────────────────── values nobody will receive ─────────────────────────

/**
 * A queued value that will never be received (its receiver dropped it, or the
 * channel was freed with it inside) still owns the handles moved into it — an
 * Arc, or a channel end such as a request's reply oneshot. Revives them only
 * to drop them, so that their peers see them gone instead of waiting forever.
 * Call it before freeing the bytes at `[at, end)`.
 */
export function dropOwnedAt(heap: SharedHeap, at: number, end: number): void {
  // Primitives own nothing: the common case skips the decode.
  if (FAST) {
    const tag = heap.u8For(end)[at];
    if (tag === T_INT || tag === T_FLOAT || tag === T_STR8 || tag === T_TRUE || tag === T_FALSE || tag === T_NULL || tag === T_UNDEFINED) return;
  }
  let v: unknown;
  try {
    v = decodeAt(heap, at, end);
  } catch {
    return; // a handle that no longer revives (stale, or its kind unknown on this thread) owns nothing here
  }
  releaseOwnedIn(v, new Set());
}

function releaseOwnedIn(v: unknown, seen: Set<object>): void {
  if (typeof v !== 'object' && typeof v !== 'function') return;
  if (v === null || seen.has(v)) return;
  seen.add(v);
  if (isSharedHandle(v)) {
    if (isOwned(v)) {
      try {
        v[RELEASE]();
      } catch (e) {
        process.stderr.write(`spindle: dropping a handle inside a value nobody received failed: ${(e as Error)?.message ?? String(e)}\n`);
      }
    }
    return;
  }
  if (Array.isArray(v)) for (const x of v) releaseOwnedIn(x, seen);
  else if (v instanceof Map) for (const [k, x] of v) (releaseOwnedIn(k, seen), releaseOwnedIn(x, seen));
  else if (v instanceof Set) for (const x of v) releaseOwnedIn(x, seen);
  else if (v instanceof Error) (releaseOwnedIn(v.cause, seen), Object.values(v).forEach((x) => releaseOwnedIn(x, seen)));
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) for (const x of Object.values(v)) releaseOwnedIn(x, seen);
}
