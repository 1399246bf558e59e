/**
 * The value codec: how task arguments and results cross threads.
 *
 * A compact tagged binary format for the values tasks usually carry (numbers,
 * strings, booleans, null/undefined, arrays, plain objects, typed arrays, Date,
 * Map/Set, errors, bigint), written into a private scratch buffer and copied
 * into the task's slot or heap block. Everything else that structured clone
 * accepts (RegExp, boxed primitives, cyclic graphs) falls back to
 * `v8.serialize`. Shared handles (see handle.ts) and SharedArrayBuffers travel
 * as references: the receiver gets the same memory, not a copy.
 *
 * What cannot cross — functions, symbols, class instances (their prototype and
 * private fields would be lost), WeakMaps, promises, sockets — is refused with a
 * `TypeError` that names where the value was (`argument 2 → .opts.onDone`), the
 * `Send` bound of Tokio's `spawn`.
 */
import v8 from 'node:v8';
import { HeapMismatchError, SHARED, isSharedHandle, reviverFor, type SharedRef } from './handle.js';
import { globalHeap, type SharedHeap } from './heap.js';

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT = 4;
const T_FLOAT = 5;
const T_STR8 = 6;
const T_STR16 = 7;
const T_ARRAY = 8;
const T_OBJECT = 9;
const T_TYPED = 10;
const T_ARRAYBUFFER = 11;
const T_DATE = 12;
const T_MAP = 13;
const T_SET = 14;
const T_ERROR = 15;
const T_BIGINT = 16;
const T_SHARED = 17;
const T_SAB = 18;
const T_SAB_VIEW = 19;
const T_V8 = 20;

/** Typed-array constructors by code; order is part of the wire format. */
const TYPED = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  Buffer,
  DataView,
] as const;
const BUFFER_CODE = 11;
const DATAVIEW_CODE = 12;

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

/** Error classes registered by name: a panic of one of these comes back as that class. */
const registeredErrors = new Map<string, Function>();

/**
 * Registers an error class so that a task's error of this class comes back
 * from `intoPanic()` as an instance of it (same prototype, fields, message,
 * stack). Register it in a module that both the spawner and the task import
 * (the task's own module is imported by every worker). Its `name` (the
 * instance's `name`, or else the class name) is the key.
 */
export function registerError(cls: new (...args: any[]) => Error): void {
  if (typeof cls !== 'function' || !(cls.prototype instanceof Error)) {
    throw new TypeError('spindle: registerError() takes a class that extends Error');
  }
  const name = (cls.prototype as Error).name !== 'Error' ? (cls.prototype as Error).name : cls.name;
  registeredErrors.set(name, cls);
  registeredErrors.set(cls.name, cls);
}

/**
 * How SharedArrayBuffers are named across threads: each side keeps a table of
 * the buffers it has seen; `idOf` registers a new one (and makes sure every
 * other thread will have it before it can see the id), `get` finds one by id.
 */
export interface SabTable {
  idOf(sab: SharedArrayBuffer): number;
  get(id: number): SharedArrayBuffer;
}

class CycleError extends Error {}

function describe(v: unknown): string {
  if (typeof v === 'function') return `a function (${v.name || 'anonymous'})`;
  if (typeof v === 'symbol') return `a symbol (${String(v)})`;
  const proto = Object.getPrototypeOf(v);
  const name = proto?.constructor?.name;
  return name ? `an instance of ${name}` : 'an object with a custom prototype';
}

function pathOf(path: (string | number)[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : `.${p}`;
  return s;
}

export class Encoder {
  /** The output: bytes [0, pos) of `buf` after an encode. */
  buf = new Uint8Array(256);
  private dv = new DataView(this.buf.buffer);
  pos = 0;
  /** `commit` hooks of the shared handles met while encoding (Arc moves). */
  private commits: (() => void)[] = [];
  private stack: object[] = [];
  private path: (string | number)[] = [];
  /** What the value being encoded is called in errors: "argument 2", "the result". */
  private what = '';

  constructor(private readonly sabs: SabTable | null) {}

  /** The encoded bytes of the last encode, valid until the next one. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Encodes an argument list. Throws TypeError naming the first argument that cannot cross. */
  encodeArgs(args: readonly unknown[], commits = true): number {
    this.reset();
    this.u16(args.length);
    for (let i = 0; i < args.length; i++) this.top(args[i], `argument ${i + 1}`);
    if (commits) this.runCommits();
    return this.pos;
  }

  /** Encodes one value (a result, an error). */
  encodeValue(v: unknown, what: string): number {
    this.reset();
    this.top(v, what);
    this.runCommits();
    return this.pos;
  }

  // Setting an array's length costs ~100 ns even when it is already 0: skip it then (channels-wiring: per-message cost).
  private reset(): void {
    this.pos = 0;
    if (this.commits.length !== 0) this.commits.length = 0;
    if (this.stack.length !== 0) this.stack.length = 0;
    if (this.path.length !== 0) this.path.length = 0;
  }

  private runCommits(): void {
    if (this.commits.length === 0) return;
    for (const c of this.commits) c();
    this.commits.length = 0;
  }

  private top(v: unknown, what: string): void {
    this.what = what;
    const start = this.pos;
    const commits = this.commits.length;
    try {
      this.value(v);
    } catch (e) {
      if (!(e instanceof CycleError)) throw e;
      // A cyclic graph: structured clone keeps the cycles.
      this.pos = start;
      this.commits.length = commits;
      this.stack.length = 0;
      this.path.length = 0;
      this.v8(v);
    }
  }

  private fail(v: unknown, hint: string): never {
    const where = this.path.length ? `${this.what} (at ${pathOf(this.path)})` : this.what;
    throw new TypeError(`spindle: ${where} is ${describe(v)}, which cannot cross threads. ${hint}`);
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  private u8(x: number): void {
    this.ensure(1);
    this.buf[this.pos++] = x;
  }

  private u16(x: number): void {
    this.ensure(2);
    this.dv.setUint16(this.pos, x, true);
    this.pos += 2;
  }

  private u32(x: number): void {
    this.ensure(4);
    this.dv.setUint32(this.pos, x, true);
    this.pos += 4;
  }

  private f64(x: number): void {
    this.ensure(8);
    this.dv.setFloat64(this.pos, x, true);
    this.pos += 8;
  }

  private raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  private str(s: string): void {
    const n = s.length;
    this.ensure(5 + 2 * n);
    const tagAt = this.pos;
    this.buf[this.pos] = T_STR8;
    this.dv.setUint32(this.pos + 1, n, true);
    let p = this.pos + 5;
    const b = this.buf;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        // Not Latin-1: write the whole string as UTF-16 code units.
        b[tagAt] = T_STR16;
        p = tagAt + 5;
        for (let j = 0; j < n; j++) {
          this.dv.setUint16(p, s.charCodeAt(j), true);
          p += 2;
        }
        this.pos = p;
        return;
      }
      b[p++] = c;
    }
    this.pos = p;
  }

  private v8(v: unknown): void {
    let bytes: Buffer;
    try {
      bytes = v8.serialize(v);
    } catch (e) {
      this.fail(v, `(${(e as Error).message})`);
    }
    this.u8(T_V8);
    this.u32(bytes.length);
    this.raw(bytes);
  }

  private value(v: unknown): void {
    switch (typeof v) {
      case 'number':
        if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
          this.ensure(5);
          this.buf[this.pos] = T_INT;
          this.dv.setInt32(this.pos + 1, v, true);
          this.pos += 5;
        } else {
          this.u8(T_FLOAT);
          this.f64(v);
        }
        return;
      case 'string':
        this.str(v);
        return;
      case 'boolean':
        this.u8(v ? T_TRUE : T_FALSE);
        return;
      case 'undefined':
        this.u8(T_UNDEFINED);
        return;
      case 'bigint':
        this.u8(T_BIGINT);
        this.str(v.toString());
        return;
      case 'function':
        this.fail(v, 'Pass data, not code: define the callee as a task and spawn it, or send its name.');
      // falls through (fail never returns)
      case 'symbol':
        this.fail(v, 'Pass a string instead.');
      // falls through
      case 'object':
        if (v === null) {
          this.u8(T_NULL);
          return;
        }
        this.object(v);
    }
  }

  private object(v: object): void {
    if (this.stack.includes(v)) throw new CycleError();
    if (isSharedHandle(v)) return this.shared(v[SHARED]());
    const proto = Object.getPrototypeOf(v);
    this.stack.push(v);
    try {
      if (Array.isArray(v) && proto === Array.prototype) {
        this.u8(T_ARRAY);
        this.u32(v.length);
        for (let i = 0; i < v.length; i++) {
          this.path.push(i);
          this.value(v[i]);
          this.path.pop();
        }
      } else if (proto === Object.prototype || proto === null) {
        const keys = Object.keys(v);
        this.u8(T_OBJECT);
        this.u32(keys.length);
        for (const k of keys) {
          this.str(k);
          this.path.push(k);
          this.value((v as Record<string, unknown>)[k]);
          this.path.pop();
        }
      } else if (ArrayBuffer.isView(v)) {
        this.view(v);
      } else if (v instanceof ArrayBuffer) {
        this.u8(T_ARRAYBUFFER);
        this.u32(v.byteLength);
        this.raw(new Uint8Array(v));
      } else if (v instanceof SharedArrayBuffer) {
        this.sab(v);
      } else if (v instanceof Date) {
        this.u8(T_DATE);
        this.f64(v.getTime());
      } else if (v instanceof Map) {
        this.u8(T_MAP);
        this.u32(v.size);
        let i = 0;
        for (const [k, val] of v) {
          this.path.push(`<map key ${i}>`);
          this.value(k);
          this.path.pop();
          this.path.push(`<map value ${i++}>`);
          this.value(val);
          this.path.pop();
        }
      } else if (v instanceof Set) {
        this.u8(T_SET);
        this.u32(v.size);
        let i = 0;
        for (const x of v) {
          this.path.push(`<set item ${i++}>`);
          this.value(x);
          this.path.pop();
        }
      } else if (v instanceof Error) {
        this.error(v);
      } else if (v instanceof RegExp || v instanceof Boolean || v instanceof Number || v instanceof String) {
        this.v8(v);
      } else {
        this.fail(
          v,
          'Only plain data and shared handles can: pass a plain object of the fields the task needs, ' +
            'or a shared handle (Arc, Mutex, channel end).',
        );
      }
    } finally {
      this.stack.pop();
    }
  }

  private view(v: ArrayBufferView): void {
    const code = v instanceof Buffer ? BUFFER_CODE : TYPED.findIndex((C) => v.constructor === C);
    if (code < 0) this.fail(v, 'Use one of the built-in typed arrays.');
    const elemSize = (v as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    if (v.buffer instanceof SharedArrayBuffer) {
      // The same memory, not a copy: send (buffer id, offset, length).
      this.u8(T_SAB_VIEW);
      this.u8(code);
      this.sabId(v.buffer);
      this.u32(v.byteOffset);
      this.u32(code === DATAVIEW_CODE ? v.byteLength : v.byteLength / elemSize);
      return;
    }
    this.u8(T_TYPED);
    this.u8(code);
    this.u32(v.byteLength);
    this.raw(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  }

  private sabId(sab: SharedArrayBuffer): void {
    if (this.sabs === null) this.fail(sab, 'SharedArrayBuffers need a runtime to cross.');
    this.u32(this.sabs.idOf(sab));
  }

  private sab(v: SharedArrayBuffer): void {
    this.u8(T_SAB);
    this.sabId(v);
  }

  private shared(ref: SharedRef): void {
    if (ref.heap.id !== globalHeap().id) {
      throw new HeapMismatchError(
        `spindle: ${this.what} is a ${ref.kind} that lives in a standalone SharedHeap; ` +
          `only handles in the runtime's heap (the default, globalHeap()) can cross a spawn`,
      );
    }
    this.u8(T_SHARED);
    this.str(ref.kind);
    this.u32(ref.offset);
    if (ref.commit) this.commits.push(ref.commit);
  }

  private error(e: Error): void {
    this.u8(T_ERROR);
    this.str(e.name);
    this.str(e.message);
    this.value(e.stack);
    this.path.push('cause');
    this.value('cause' in e ? e.cause : undefined);
    this.path.pop();
    // Own enumerable fields (code, errno, custom data) and AggregateError's errors.
    const own: Record<string, unknown> = {};
    for (const k of Object.keys(e)) own[k] = (e as unknown as Record<string, unknown>)[k];
    if (e instanceof AggregateError) own.errors = e.errors;
    this.path.push('<fields>');
    this.value(own);
    this.path.pop();
    this.u8('cause' in e ? 1 : 0);
  }
}

/** Reads values written by `Encoder` from (possibly shared) memory. */
export class Decoder {
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private pos = 0;

  constructor(private readonly sabs: SabTable | null) {}

  private at(u8: Uint8Array, dv: DataView, pos: number): void {
    this.u8 = u8;
    this.dv = dv;
    this.pos = pos;
  }

  decodeArgs(u8: Uint8Array, dv: DataView, pos: number): unknown[] {
    this.at(u8, dv, pos);
    const n = this.dv.getUint16(this.pos, true);
    this.pos += 2;
    const args = new Array<unknown>(n);
    for (let i = 0; i < n; i++) args[i] = this.value();
    return args;
  }

  decodeValue(u8: Uint8Array, dv: DataView, pos: number): unknown {
    this.at(u8, dv, pos);
    return this.value();
  }

  private u32(): number {
    const x = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return x;
  }

  private f64(): number {
    const x = this.dv.getFloat64(this.pos, true);
    this.pos += 8;
    return x;
  }

  /** Copies bytes out of (shared) memory into a fresh private buffer. */
  private bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    out.set(this.u8.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }

  private str(): string {
    const tag = this.u8[this.pos];
    const n = this.dv.getUint32(this.pos + 1, true);
    this.pos += 5;
    return this.strBody(tag, n);
  }

  private strBody(tag: number, n: number): string {
    let s = '';
    if (tag === T_STR8) {
      const b = this.u8;
      let p = this.pos;
      const end = p + n;
      while (p < end) {
        const chunk = Math.min(end, p + 4096);
        s += String.fromCharCode.apply(null, b.subarray(p, chunk) as unknown as number[]);
        p = chunk;
      }
      this.pos = end;
    } else {
      const codes = new Uint16Array(n);
      for (let i = 0; i < n; i++) codes[i] = this.dv.getUint16(this.pos + 2 * i, true);
      this.pos += 2 * n;
      for (let i = 0; i < n; i += 4096) {
        s += String.fromCharCode.apply(null, codes.subarray(i, i + 4096) as unknown as number[]);
      }
    }
    return s;
  }

  private value(): unknown {
    const tag = this.u8[this.pos++];
    switch (tag) {
      case T_INT: {
        const x = this.dv.getInt32(this.pos, true);
        this.pos += 4;
        return x;
      }
      case T_FLOAT:
        return this.f64();
      case T_STR8:
      case T_STR16:
        return this.strBody(tag, this.u32());
      case T_UNDEFINED:
        return undefined;
      case T_NULL:
        return null;
      case T_FALSE:
        return false;
      case T_TRUE:
        return true;
      case T_ARRAY: {
        const n = this.u32();
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.value();
        return a;
      }
      case T_OBJECT: {
        const n = this.u32();
        const o: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.str();
          o[k] = this.value();
        }
        return o;
      }
      case T_TYPED: {
        const code = this.u8[this.pos++];
        const n = this.u32();
        const bytes = this.bytes(n);
        if (code === BUFFER_CODE) return Buffer.from(bytes.buffer, 0, n);
        if (code === DATAVIEW_CODE) return new DataView(bytes.buffer);
        const C = TYPED[code] as unknown as { new (b: ArrayBuffer): ArrayBufferView };
        return new C(bytes.buffer as ArrayBuffer);
      }
      case T_ARRAYBUFFER:
        return this.bytes(this.u32()).buffer;
      case T_DATE:
        return new Date(this.f64());
      case T_MAP: {
        const n = this.u32();
        const m = new Map();
        for (let i = 0; i < n; i++) {
          const k = this.value();
          m.set(k, this.value());
        }
        return m;
      }
      case T_SET: {
        const n = this.u32();
        const s = new Set();
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      case T_ERROR:
        return this.error();
      case T_BIGINT:
        return BigInt(this.str());
      case T_SHARED: {
        const kind = this.str();
        return reviverFor(kind)(globalHeap() as SharedHeap, this.u32());
      }
      case T_SAB:
        return this.sabs!.get(this.u32());
      case T_SAB_VIEW: {
        const code = this.u8[this.pos++];
        const sab = this.sabs!.get(this.u32());
        const offset = this.u32();
        const len = this.u32();
        if (code === BUFFER_CODE) return Buffer.from(sab, offset, len);
        const C = TYPED[code] as unknown as { new (b: SharedArrayBuffer, o: number, l: number): ArrayBufferView };
        return new C(sab, offset, len);
      }
      case T_V8: {
        const n = this.u32();
        return v8.deserialize(this.bytes(n));
      }
      default:
        throw new Error(`spindle: corrupt payload (tag ${tag} at byte ${this.pos - 1})`);
    }
  }

  private error(): Error {
    const name = this.str();
    const message = this.str();
    const stack = this.value() as string | undefined;
    const cause = this.value();
    const own = this.value() as Record<string, unknown>;
    const hasCause = this.u8[this.pos++] === 1;
    let e: Error;
    if (name === 'AggregateError') {
      e = new AggregateError((own.errors as unknown[]) ?? [], message);
      delete own.errors;
    } else if (registeredErrors.has(name)) {
      e = Object.create(registeredErrors.get(name)!.prototype) as Error;
      Object.defineProperty(e, 'message', { value: message, writable: true, configurable: true, enumerable: false });
      if (e.name !== name) Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false });
    } else {
      const C = ERROR_CLASSES[name] ?? Error;
      e = new C(message);
      if (e.name !== name) Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false });
    }
    if (stack !== undefined) Object.defineProperty(e, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
    if (hasCause) Object.defineProperty(e, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
    Object.assign(e, own);
    return e;
  }
}
