/**
 * The wire format of spindle/bullmq: what a job's data, its return value and
 * its failure reason hold. Values go through spindle's own codec (the one that
 * carries task arguments between threads), base64 in BullMQ's JSON.
 *
 * - job data:      `{ v: WIRE, t: portable task name, j: args }` when the arguments are
 *                  plain JSON data (JSON carries them exactly), else `{ v, t, a: base64(args) }`
 * - return value:  `{ v: WIRE, j: value }` likewise, else `{ v, r: base64(value) }`; `{ v }` for undefined
 * - failedReason:  `<one readable line>\n[spindle/bullmq:WIRE:base64({ k, m, e })]`,
 *   k = 'p' (panic) or 'c' (cancelled), m = the machine's name, e = what the task
 *   threw, with its class name, message, stack, cause and fields. BullMQ keeps
 *   only a failure's message, so the whole error rides in it.
 *
 * `WIRE` changes when any of this (or the codec's byte format) changes; each
 * side refuses the other's payloads with a clear error instead of guessing.
 */
import { isSharedHandle } from '../shared/handle.js';
import { Decoder, Encoder, registerError } from '../shared/codec.js';
import { ErrorCode, SpindleError, typeError } from '../errors.js';

// spindle's own refusals (an unknown task, an unreadable job) come back as SpindleErrors.
registerError(SpindleError);

/** The wire format's version: jobs and results written by another version are refused with ERR_SPINDLE_INCOMPATIBLE_PAYLOAD. */
export const WIRE = 1;

export interface JobData {
  v: number;
  t: string;
  /** The arguments, when they are plain JSON data. */
  j?: unknown[];
  /** The arguments through spindle's codec, base64. */
  a?: string;
}

export interface ResultData {
  v: number;
  j?: unknown;
  r?: string;
}

/**
 * True when JSON carries `v` exactly: strings, booleans, null, finite numbers
 * other than -0, and arrays (dense) and plain objects of those. Anything else
 * (undefined, NaN, Date, Map, typed arrays, errors, cycles, very deep data)
 * goes through the codec, which keeps it.
 */
function plain(v: unknown, depth: number): boolean {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(v) && !Object.is(v, -0);
    case 'object': {
      if (v === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(v)) {
        if (Object.getPrototypeOf(v) !== Array.prototype) return false;
        for (let i = 0; i < v.length; i++) if (!(i in v) || !plain(v[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k of Object.keys(v)) {
        if (k === '__proto__' || !plain((v as Record<string, unknown>)[k], depth + 1)) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

const enc = new Encoder(null);
const dec = new Decoder(null);

function toBase64(): string {
  const b = enc.bytes();
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('base64');
}

function fromBase64(s: string): { u8: Uint8Array; dv: DataView } {
  const b = Buffer.from(s, 'base64');
  return { u8: new Uint8Array(b.buffer, b.byteOffset, b.length), dv: new DataView(b.buffer, b.byteOffset, b.length) };
}

/** Refuses what only has meaning inside one process: shared handles and SharedArrayBuffer memory. */
function refuseLocal(v: unknown, where: string, seen: Set<object>): void {
  if (typeof v !== 'object' || v === null || seen.has(v)) return;
  seen.add(v);
  const local =
    isSharedHandle(v) ? 'a shared handle (Arc, Mutex, channel end, ...), which lives in this process\'s shared memory' :
    v instanceof SharedArrayBuffer ? 'a SharedArrayBuffer, which is memory of this process' :
    ArrayBuffer.isView(v) && v.buffer instanceof SharedArrayBuffer ? 'a view of a SharedArrayBuffer, which is memory of this process' :
    undefined;
  if (local !== undefined) {
    throw typeError(`spindle/bullmq: ${where} is ${local}; it cannot be sent to another machine. Send plain data (copy it out first).`, ErrorCode.NOT_SENDABLE);
  }
  if (Array.isArray(v)) v.forEach((x, i) => refuseLocal(x, `${where}[${i}]`, seen));
  else if (v instanceof Map) for (const [k, x] of v) (refuseLocal(k, `${where} (a map key)`, seen), refuseLocal(x, `${where} (a map value)`, seen));
  else if (v instanceof Set) for (const x of v) refuseLocal(x, `${where} (a set item)`, seen);
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
    for (const k of Object.keys(v)) refuseLocal((v as Record<string, unknown>)[k], `${where}.${k}`, seen);
  }
}

function remoteTypeError(e: unknown): never {
  if (e instanceof TypeError) {
    throw typeError(e.message.replace('cannot cross threads', 'cannot be sent to another machine'), ErrorCode.NOT_SENDABLE);
  }
  throw e;
}

/** The job data for `task(...args)`. Throws `TypeError` (naming the argument) for what cannot be sent. */
export function encodeJob(name: string, args: readonly unknown[]): JobData {
  if (plain(args, 0)) return { v: WIRE, t: name, j: args as unknown[] };
  const seen = new Set<object>();
  args.forEach((a, i) => refuseLocal(a, `argument ${i + 1}`, seen));
  try {
    enc.encodeArgs(args, false);
  } catch (e) {
    remoteTypeError(e);
  }
  return { v: WIRE, t: name, a: toBase64() };
}

/** Whether `data` is a job this version can read; otherwise what is wrong with it. */
export function checkJob(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return 'its data is not an object';
  const d = data as Partial<JobData>;
  if (d.v !== WIRE) {
    return typeof d.v === 'number'
      ? `it was written in spindle/bullmq wire format ${d.v}, and this machine reads format ${WIRE}`
      : 'it has no spindle/bullmq wire format version (was it added by something other than bullRuntime().spawn?)';
  }
  if (typeof d.t !== 'string' || (typeof d.a !== 'string' && !Array.isArray(d.j))) return 'its task name or arguments are missing';
  return undefined;
}

/** The arguments of a job that passed `checkJob`. */
export function decodeArgs(d: JobData): unknown[] {
  if (d.j !== undefined) return d.j;
  const { u8, dv } = fromBase64(d.a!);
  return dec.decodeArgs(u8, dv, 0);
}

/** A task's value as a BullMQ return value. Throws `TypeError` for what cannot be sent back. */
export function encodeResult(value: unknown): ResultData {
  if (value === undefined) return { v: WIRE };
  if (plain(value, 0)) return { v: WIRE, j: value };
  refuseLocal(value, 'the result', new Set());
  try {
    enc.encodeValue(value, 'the result');
  } catch (e) {
    remoteTypeError(e);
  }
  return { v: WIRE, r: toBase64() };
}

export function incompatible(message: string): SpindleError {
  return new SpindleError(
    ErrorCode.INCOMPATIBLE_PAYLOAD,
    `spindle/bullmq: ${message}. Producers and machines must run compatible versions of spindle.`,
  );
}

/** The value in a BullMQ return value written by `encodeResult`. Throws INCOMPATIBLE_PAYLOAD otherwise. */
export function decodeResult(rv: unknown, jobId: string): unknown {
  const r = rv as Partial<ResultData> | null;
  if (typeof r !== 'object' || r === null || r.v !== WIRE) {
    throw incompatible(
      `the return value of job ${jobId} is not one this producer can read (format ${typeof r === 'object' && r !== null && typeof r.v === 'number' ? r.v : 'unknown'}, this producer reads ${WIRE})`,
    );
  }
  if ('j' in r) return r.j;
  if (typeof r.r !== 'string') return undefined;
  const { u8, dv } = fromBase64(r.r);
  return dec.decodeValue(u8, dv, 0);
}

export type FailureKind = 'panic' | 'cancelled';

export interface Failure {
  kind: FailureKind;
  machine: string;
  /** What the task threw (decoded: class, message, stack, cause, fields). */
  error: unknown;
}

const MARK = /\n\[spindle\/bullmq:(\d+):([A-Za-z0-9+/=]*)\]$/;

/** The failedReason for a job that panicked or was cancelled on `machine`. */
export function failureReason(kind: FailureKind, machine: string, headline: string, error: unknown): string {
  const record = { k: kind === 'panic' ? 'p' : 'c', m: machine, e: error };
  try {
    enc.encodeValue(record, 'the panic');
  } catch (e) {
    // What the task threw cannot be encoded (a class instance): send its text.
    const fallback = new Error(String(error instanceof Error ? error.message : error));
    if (error instanceof Error) fallback.name = error.name;
    if (error instanceof Error && error.stack !== undefined) fallback.stack = error.stack;
    enc.encodeValue({ ...record, e: fallback }, 'the panic');
    void e;
  }
  return `${headline}\n[spindle/bullmq:${WIRE}:${toBase64()}]`;
}

/**
 * The failure in a failedReason written by `failureReason`, or undefined for a
 * reason BullMQ wrote itself (a stalled job over its limit, say). Throws
 * INCOMPATIBLE_PAYLOAD for one written by another wire version.
 */
export function parseFailure(reason: string, jobId: string): Failure | undefined {
  const m = MARK.exec(reason);
  if (m === null) return undefined;
  if (Number(m[1]) !== WIRE) {
    throw incompatible(`the failure of job ${jobId} was written in wire format ${m[1]}, and this producer reads format ${WIRE}`);
  }
  const { u8, dv } = fromBase64(m[2]!);
  const rec = dec.decodeValue(u8, dv, 0) as { k: string; m: string; e: unknown };
  return { kind: rec.k === 'c' ? 'cancelled' : 'panic', machine: rec.m, error: rec.e };
}

/** The readable part of a failedReason (without the encoded record). */
export function headlineOf(reason: string): string {
  const m = MARK.exec(reason);
  return m === null ? reason : reason.slice(0, m.index);
}
