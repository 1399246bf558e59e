/**
 * How channel values are written into and read from the shared heap: with the
 * runtime's codec (`Encoder.encodeValue` / `Decoder.decodeValue`), exactly as
 * task arguments are. Shared handles inside a value travel as handles (an Arc
 * or a channel end is moved into the channel), SharedArrayBuffers as the same
 * memory (named through this thread's runtime registry).
 */
import { Decoder, Encoder, type SabTable } from '../shared/codec.js';
import { SHARED, isSharedHandle } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';
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

let dv: DataView | undefined;
let dvBuffer: SharedArrayBuffer | undefined;

/** Encodes `v` (commits moved handles); returns the byte count in `enc.buf`. `what` names the call in errors. */
export function encode(v: unknown, what: string): number {
  return enc.encodeValue(v, what);
}

/** Copies the last encoding into the heap at byte `at`. */
export function copyEncoded(heap: SharedHeap, at: number, n: number): void {
  const u8 = heap.u8For(at + n);
  const b = enc.buf;
  if (n <= 48) {
    for (let i = 0; i < n; i++) u8[at + i] = b[i]!;
  } else {
    u8.set(b.subarray(0, n), at);
  }
}

/** Decodes the value whose encoding starts at byte `at` of the heap (and ends by `end`). */
export function decodeAt(heap: SharedHeap, at: number, end: number): unknown {
  const u8 = heap.u8For(end);
  if (dvBuffer !== heap.buffer || dv!.byteLength < end) {
    dvBuffer = heap.buffer;
    dv = new DataView(heap.buffer, 0, heap.buffer.byteLength);
  }
  return dec.decodeValue(u8, dv!, at);
}

/** Decodes a value from private bytes (a copy taken from shared memory). */
export function decodeBytes(bytes: Uint8Array): unknown {
  return dec.decodeValue(bytes, new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0);
}

/**
 * Broadcast and watch values are read by many receivers, so they cannot own
 * anything: a handle that moves (an Arc, a Weak, a channel end) would be owned
 * by every reader at once. Throws a TypeError naming where one is.
 */
export function assertNothingOwned(v: unknown, what: string): void {
  const seen = new Set<object>();
  const walk = (x: unknown, path: string): void => {
    if (typeof x !== 'object' || x === null || seen.has(x)) return;
    seen.add(x);
    if (isSharedHandle(x)) {
      const ref = x[SHARED]();
      if (ref.commit !== undefined || ref.kind.includes('.')) {
        throw typeError(
          `spindle: ${what}${path ? ` (at ${path})` : ''} is a ${ref.kind}, which has one owner; every receiver of a ` +
            'broadcast or watch channel reads the same value, so it cannot carry one. Send the handle through an mpsc or oneshot channel instead.',
          ErrorCode.NOT_SENDABLE,
        );
      }
      return;
    }
    if (Array.isArray(x)) {
      for (let i = 0; i < x.length; i++) walk(x[i], `${path}[${i}]`);
    } else if (x instanceof Map) {
      let i = 0;
      for (const [k, val] of x) {
        walk(k, `${path}.<map key ${i}>`);
        walk(val, `${path}.<map value ${i++}>`);
      }
    } else if (x instanceof Set) {
      let i = 0;
      for (const val of x) walk(val, `${path}.<set item ${i++}>`);
    } else if (Object.getPrototypeOf(x) === Object.prototype || Object.getPrototypeOf(x) === null) {
      for (const k of Object.keys(x)) walk((x as Record<string, unknown>)[k], `${path}.${k}`);
    }
  };
  walk(v, '');
}
