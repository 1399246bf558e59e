/**
 * The value codec — the one way values cross threads: task arguments and
 * results (`encodeArgs` / `encodeValue`, into a task's slot) and every value
 * kept in shared state (`encodeStored`: Mutex, RwLock, OnceCell, Arc and
 * SharedMap values, in the shared heap). One tag table, one encoder and one
 * decoder; what differs between the two uses is only who owns the handles met
 * on the way (see "Shared handles" below).
 *
 * A compact tagged binary format for the values tasks usually carry (numbers,
 * strings, booleans, null/undefined, arrays, plain objects, typed arrays, Date,
 * Map/Set, errors, bigint), written into a private scratch buffer and copied
 * into a slot or heap block. RegExp and boxed primitives go through
 * `v8.serialize`. A cycle is written as a back-reference to the enclosing
 * container (so cyclic graphs keep their cycles; a container reached twice
 * without a cycle is written twice, unlike structured clone). Otherwise a
 * value comes back as `structuredClone` copies it - holes of sparse arrays,
 * own keys named `__proto__`, -0 and lone surrogates included (a test
 * compares the two on random values) - and keeps more: an error's own fields
 * (`code`, ...) and a Buffer's class. It keeps less in one place: an array's
 * non-index properties (`arr.note = 'x'`) are not copied (finding them would
 * cost a walk of every array's keys).
 *
 * What cannot cross — functions, symbols, class instances (their prototype and
 * private fields would be lost), WeakMaps, promises, sockets — is refused with
 * a `TypeError` (code ERR_SPINDLE_NOT_SENDABLE) that names where the value was
 * (`argument 2 (at .opts.onDone)`, `SharedMap.set(key, value) (at .shapes[0])`),
 * the `Send` bound of Tokio's `spawn`, at every call site alike.
 *
 * Shared handles (handle.ts) travel as references: `(kind, offset,
 * generation)`. Passed to a spawn (encodeArgs / encodeValue) an owning handle
 * (an Arc) *moves*: its `commit` runs once the whole value is encoded, and the
 * decoder records the owned handles it revives for a task's arguments
 * (`ownedArgs`), so the runtime can drop at the task's end those the task
 * neither dropped nor moved on. Stored in shared state (encodeStored) a handle
 * is a plain reference: nothing moves, the container does not own it.
 *
 * Wire format: a one-byte tag, then its payload (little-endian):
 */
import v8 from 'node:v8';
import { ErrorCode, typeError, withoutStack } from '../errors.js';
import { HeapMismatchError, RELEASE, SHARED, isOwned, isSharedHandle, reviverFor, type Owned, type SharedHandle } from './handle.js';
import { globalHeap, type SharedHeap } from './heap.js';
import { wordTable } from './word-table.js';

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
const T_REF = 21;
const T_HOLE = 22;

/** The tag table, as data (rendered into docs/shared-state.md; the unit is the tag byte). */
export const CODEC_TAGS = wordTable({
  title: 'Value codec tags',
  base: 'Each value is a tag byte, then its payload, little-endian (`src/shared/codec.ts`); task arguments, results and shared-state values alike',
  unit: 'tag',
  size: T_HOLE + 1,
  rows: [
    { name: 'T_UNDEFINED', at: T_UNDEFINED, words: 1, meaning: 'undefined (no payload)', access: 'encoder → decoder' },
    { name: 'T_NULL', at: T_NULL, words: 1, meaning: 'null', access: 'encoder → decoder' },
    { name: 'T_FALSE', at: T_FALSE, words: 1, meaning: 'false', access: 'encoder → decoder' },
    { name: 'T_TRUE', at: T_TRUE, words: 1, meaning: 'true', access: 'encoder → decoder' },
    { name: 'T_INT', at: T_INT, words: 1, meaning: 'number that is an int32 (not −0): i32', access: 'encoder → decoder' },
    { name: 'T_FLOAT', at: T_FLOAT, words: 1, meaning: 'any other number: f64', access: 'encoder → decoder' },
    { name: 'T_STR8', at: T_STR8, words: 1, meaning: 'string of Latin-1 code units: u32 length, 1 byte each', access: 'encoder → decoder' },
    { name: 'T_STR16', at: T_STR16, words: 1, meaning: 'other string: u32 length, UTF-16 code units', access: 'encoder → decoder' },
    { name: 'T_ARRAY', at: T_ARRAY, words: 1, meaning: 'array: u32 length, then each element', access: 'encoder → decoder' },
    { name: 'T_OBJECT', at: T_OBJECT, words: 1, meaning: 'plain object: u32 count, then (string key, value) pairs', access: 'encoder → decoder' },
    { name: 'T_TYPED', at: T_TYPED, words: 1, meaning: 'typed array / Buffer / DataView copy: u8 kind, u32 bytes, bytes', access: 'encoder → decoder' },
    { name: 'T_ARRAYBUFFER', at: T_ARRAYBUFFER, words: 1, meaning: 'ArrayBuffer copy: u32 bytes, bytes', access: 'encoder → decoder' },
    { name: 'T_DATE', at: T_DATE, words: 1, meaning: 'Date: f64 time', access: 'encoder → decoder' },
    { name: 'T_MAP', at: T_MAP, words: 1, meaning: 'Map: u32 size, then key, value pairs', access: 'encoder → decoder' },
    { name: 'T_SET', at: T_SET, words: 1, meaning: 'Set: u32 size, then items', access: 'encoder → decoder' },
    { name: 'T_ERROR', at: T_ERROR, words: 1, meaning: 'Error: name, message, stack, cause, own fields, has-cause byte', access: 'encoder → decoder' },
    { name: 'T_BIGINT', at: T_BIGINT, words: 1, meaning: 'bigint: its decimal string', access: 'encoder → decoder' },
    { name: 'T_SHARED', at: T_SHARED, words: 1, meaning: 'shared handle: kind string, u32 offset, u32 generation (a reference, never a copy)', access: 'encoder → decoder' },
    { name: 'T_SAB', at: T_SAB, words: 1, meaning: 'SharedArrayBuffer: u32 id (sabs.ts; tasks only)', access: 'encoder → decoder' },
    { name: 'T_SAB_VIEW', at: T_SAB_VIEW, words: 1, meaning: 'view of a SharedArrayBuffer: u8 kind, u32 id, u32 offset, u32 length', access: 'encoder → decoder' },
    { name: 'T_V8', at: T_V8, words: 1, meaning: 'RegExp, boxed primitive: u32 bytes of v8.serialize', access: 'encoder → decoder' },
    { name: 'T_REF', at: T_REF, words: 1, meaning: 'a cycle: u32 index of an enclosing container (arrays, objects, Maps, Sets, errors, numbered in order)', access: 'encoder → decoder' },
    { name: 'T_HOLE', at: T_HOLE, words: 1, meaning: 'a missing element of a sparse array (no payload): it stays missing, not undefined', access: 'encoder → decoder' },
  ],
});

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
    throw typeError('spindle: registerError() takes a class that extends Error');
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

function describe(v: unknown): string {
  if (typeof v === 'function') return `a function (${v.name || 'anonymous'})`;
  if (typeof v === 'symbol') return `a symbol (${String(v)})`;
  if (v instanceof Promise) return Object.prototype.toString.call(v) === '[object JoinHandle]' ? 'a JoinHandle' : 'a promise';
  const proto = Object.getPrototypeOf(v);
  const name = proto?.constructor?.name;
  return name ? `an instance of ${name}` : 'an object with a custom prototype';
}

/**
 * @internal A Node Buffer over a Uint8Array's memory, for Node's string
 * codecs: made again only when the array is another one (a one-entry cache;
 * each user keeps its own, as each nearly always reads or writes one array).
 */
export class BufferView {
  #of: Uint8Array | null = null;
  #buf: Buffer | null = null;
  of(u8: Uint8Array): Buffer {
    if (u8 !== this.#of) {
      this.#of = u8;
      this.#buf = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
    }
    return this.#buf!;
  }
}

/**
 * A stack overflow while encoding or decoding, said plainly: the codec recurses
 * once per level of nesting, as structuredClone does, and fails where it does
 * (a receiver whose stack is smaller than its sender's can fail where the
 * sender did not: the main thread's stack is about 1 MB, a worker's 4 MB).
 * Any other error is returned as it is.
 */
function tooDeep(e: unknown, what: string): unknown {
  if (!(e instanceof RangeError) || (e as { code?: unknown }).code !== undefined || !/call stack/i.test(e.message)) return e;
  return Object.assign(new RangeError(`spindle: ${what} (${e.message}). Flatten it, or send it in parts.`, { cause: e }), { code: ErrorCode.NOT_SENDABLE });
}
const DECODE_TOO_DEEP = 'a value received from another thread is nested too deeply to decode on this one';

/** A value whose encoding cannot fail (so needs no path entry for errors). */
function isLeaf(x: unknown): boolean {
  // Each `typeof x === '…'` compiles to a type check; `typeof` kept in a variable (or switched on) is a call.
  return typeof x === 'number' || typeof x === 'string' || typeof x === 'boolean' || x === undefined;
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
  /** `buf` as a Node Buffer, for long strings. */
  private readonly strView = new BufferView();
  /**
   * `commit` hooks of the shared handles met while encoding (Arc moves), `commits[0..nMoved)`,
   * and the handles they belong to (one handle cannot move twice in one value). Counted, and
   * cleared entry by entry: setting an array's length is a runtime call, and it drops the
   * backing store that the next value with a handle in it would grow again.
   */
  private commits: ((() => void) | undefined)[] = [];
  private moved: (object | undefined)[] = [];
  private nMoved = 0;
  /** Containers being encoded (the path from the root), and their numbers for back-references. */
  private stack: object[] = [];
  private stackIds: number[] = [];
  private nextId = 0;
  private path: (string | number)[] = [];
  /**
   * What the value being encoded is called in errors ("the result",
   * "SharedMap.set(key, value)"), or the 1-based argument number, whose label
   * ("argument 2") is built only when encoding fails.
   */
  private what: string | number = '';
  /** Where shared handles must live: null = the process-wide heap (a spawn), else the heap of the container. */
  private target: SharedHeap | null = null;
  /** True while encoding a value to store: handles are references, nothing moves. */
  private storing = false;
  /** @internal True while an encode runs (a getter on the value could re-enter). */
  busy = false;

  constructor(private readonly sabs: SabTable | null) {}

  /** The encoded bytes of the last encode, valid until the next one. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /** Encodes an argument list. Throws TypeError naming the first argument that cannot cross. */
  encodeArgs(args: readonly unknown[], commits = true): number {
    this.reset(null, false);
    try {
      this.u16(args.length);
      for (let i = 0; i < args.length; i++) this.top(args[i], i + 1);
      if (commits) this.runCommits();
    } finally {
      this.busy = false;
    }
    return this.pos;
  }

  /** Encodes one value (a result, an error); owning handles in it move. */
  encodeValue(v: unknown, what: string): number {
    this.reset(null, false);
    try {
      this.top(v, what);
      this.runCommits();
    } finally {
      this.busy = false;
    }
    return this.pos;
  }

  /**
   * Encodes a value to keep in shared state in `heap`: handles in it must
   * live in `heap` and are stored by reference (nothing moves). Returns a view
   * of the encoder's buffer, valid until its next encode.
   */
  encodeStored(v: unknown, heap: SharedHeap, what: string): Uint8Array {
    const type = typeof v;
    if (type === 'number' || type === 'string' || type === 'boolean' || type === 'undefined') {
      // A primitive cannot fail, re-enter or hold a handle: the shared-state fast path.
      this.pos = 0;
      this.value(v);
      return this.buf.subarray(0, this.pos);
    }
    this.reset(heap, true);
    try {
      this.top(v, what);
    } finally {
      this.busy = false;
    }
    return this.buf.subarray(0, this.pos);
  }

  private reset(target: SharedHeap | null, storing: boolean): void {
    this.busy = true;
    this.pos = 0;
    // Setting an array's length is a runtime call: only when something is left (after a throw).
    if (this.nMoved !== 0) this.clearMoved();
    if (this.stack.length !== 0) {
      this.stack.length = 0;
      this.stackIds.length = 0;
    }
    if (this.path.length !== 0) this.path.length = 0;
    this.nextId = 0;
    this.target = target;
    this.storing = storing;
  }

  private runCommits(): void {
    const n = this.nMoved;
    if (n === 0) return;
    this.nMoved = 0;
    for (let i = 0; i < n; i++) {
      const c = this.commits[i]!;
      this.commits[i] = undefined;
      this.moved[i] = undefined;
      c();
    }
  }

  /** Forgets the handles met without moving them (an encode that failed, or one told not to commit). */
  private clearMoved(): void {
    for (let i = 0; i < this.nMoved; i++) {
      this.commits[i] = undefined;
      this.moved[i] = undefined;
    }
    this.nMoved = 0;
  }

  /** True if `h` was met already in this value. */
  private movedAlready(h: object): boolean {
    for (let i = 0; i < this.nMoved; i++) if (this.moved[i] === h) return true;
    return false;
  }

  private get label(): string {
    return typeof this.what === 'number' ? `argument ${this.what}` : this.what;
  }

  private top(v: unknown, what: string | number): void {
    this.what = what;
    try {
      this.value(v);
    } catch (e) {
      // The encoder recurses per level of nesting, as structuredClone does, and fails where it does:
      // said at the call site like any value that cannot cross, not as a bare stack overflow.
      throw tooDeep(e, `${this.label} is nested too deeply to cross threads`);
    }
  }

  private fail(v: unknown, hint: string): never {
    const where = this.path.length ? `${this.label} (at ${pathOf(this.path)})` : this.label;
    throw typeError(`spindle: ${where} is ${describe(v)}, which cannot cross threads. ${hint}`, ErrorCode.NOT_SENDABLE);
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
    if (n > ENCODE_BY_NODE) return this.longStr(s, n);
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

  /**
   * A string longer than ENCODE_BY_NODE, written by Node's own string codecs
   * (`Buffer#write`: a copy in C++) instead of a loop of `charCodeAt`: a
   * 1,000-character string took 2.9 µs that way, and its decode 23 µs
   * (`npm run bench:codec`). Room is ensured by the caller.
   */
  private longStr(s: string, n: number): void {
    const out = this.strView.of(this.buf);
    const at = this.pos;
    const latin1 = !NOT_LATIN1.test(s);
    out[at] = latin1 ? T_STR8 : T_STR16;
    this.dv.setUint32(at + 1, n, true);
    this.pos = at + 5 + out.write(s, at + 5, latin1 ? 'latin1' : 'utf16le');
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
    // An if-chain of `typeof v === '…'` (each a type check), not a switch on `typeof v` (a call per value).
    if (typeof v === 'number') {
      if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
        this.ensure(5);
        this.buf[this.pos] = T_INT;
        this.dv.setInt32(this.pos + 1, v, true);
        this.pos += 5;
      } else {
        this.u8(T_FLOAT);
        this.f64(v);
      }
    } else if (typeof v === 'string') {
      this.str(v);
    } else if (typeof v === 'object') {
      if (v === null) this.u8(T_NULL);
      else this.object(v);
    } else if (typeof v === 'boolean') {
      this.u8(v ? T_TRUE : T_FALSE);
    } else if (v === undefined) {
      this.u8(T_UNDEFINED);
    } else if (typeof v === 'bigint') {
      this.u8(T_BIGINT);
      this.str(v.toString());
    } else if (typeof v === 'function') {
      this.fail(v, 'Pass data, not code: define the callee as a task and spawn it, or send its name.');
    } else {
      this.fail(v, 'Pass a string instead.'); // a symbol
    }
  }

  /** Opens container `v` (numbered for back-references); false when it is an ancestor (a cycle, written as T_REF). */
  private open(v: object): boolean {
    const at = this.stack.indexOf(v);
    if (at >= 0) {
      this.u8(T_REF);
      this.u32(this.stackIds[at]!);
      return false;
    }
    this.stack.push(v);
    this.stackIds.push(this.nextId++);
    return true;
  }

  private close(): void {
    this.stack.pop();
    this.stackIds.pop();
  }

  private object(v: object): void {
    if (isSharedHandle(v)) return this.shared(v);
    const proto = Object.getPrototypeOf(v);
    if (Array.isArray(v) && proto === Array.prototype) {
      if (!this.open(v)) return;
      this.u8(T_ARRAY);
      this.u32(v.length);
      for (let i = 0; i < v.length; i++) {
        const x: unknown = v[i];
        // A hole reads as undefined; only then is `in` asked (a dense array never pays for it).
        if (x === undefined && !(i in v)) {
          this.u8(T_HOLE);
          continue;
        }
        // A primitive cannot fail: no path entry for it (half the cost of a number array: map()).
        if (isLeaf(x)) {
          this.value(x);
          continue;
        }
        this.path.push(i);
        this.value(x);
        this.path.pop();
      }
      this.close();
    } else if (proto === Object.prototype || proto === null) {
      if (!this.open(v)) return;
      this.u8(T_OBJECT);
      const countAt = this.pos;
      this.u32(0); // the count, written after the keys (for-in has no length)
      let count = 0;
      // for-in over a plain object walks V8's enum cache and loads each value by
      // its cached field index: far cheaper than Object.keys plus a keyed load.
      // It also lists inherited enumerable keys (a polluted Object.prototype):
      // those are skipped, as Object.keys would.
      for (const k in v) {
        if (!hasOwn(v, k)) continue;
        count++;
        this.str(k);
        const x = (v as Record<string, unknown>)[k];
        if (isLeaf(x)) {
          this.value(x);
          continue;
        }
        this.path.push(k);
        this.value(x);
        this.path.pop();
      }
      this.dv.setUint32(countAt, count, true);
      this.close();
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
      if (!this.open(v)) return;
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
      this.close();
    } else if (v instanceof Set) {
      if (!this.open(v)) return;
      this.u8(T_SET);
      this.u32(v.size);
      let i = 0;
      for (const x of v) {
        this.path.push(`<set item ${i++}>`);
        this.value(x);
        this.path.pop();
      }
      this.close();
    } else if (v instanceof Error) {
      if (!this.open(v)) return;
      this.error(v);
      this.close();
    } else if (v instanceof RegExp || v instanceof Boolean || v instanceof Number || v instanceof String) {
      this.v8(v);
    } else if (v instanceof Promise) {
      // (Named by its tag, not its constructor: reading a JoinHandle's `constructor` observes it, join.ts.)
      const what = Object.prototype.toString.call(v) === '[object JoinHandle]' ? 'JoinHandle' : 'promise';
      this.fail(v, `A pending value stays on its thread: await the ${what} and pass its value, or give the task a oneshot receiver to await there.`);
    } else {
      this.fail(
        v,
        'Only plain data and shared handles can (a class instance would lose its prototype and private fields): ' +
          'pass a plain object of the fields needed, or a shared handle (Arc, Mutex, SharedMap, channel end).',
      );
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
    if (this.sabs === null) {
      this.fail(sab, this.storing ? 'Shared state cannot hold a SharedArrayBuffer: keep the bytes in a shared object, or pass the buffer to a task.' : 'SharedArrayBuffers need a runtime to cross.');
    }
    this.u32(this.sabs.idOf(sab));
  }

  private sab(v: SharedArrayBuffer): void {
    this.u8(T_SAB);
    this.sabId(v);
  }

  private shared(h: SharedHandle): void {
    const ref = h[SHARED]();
    const heap = this.target ?? globalHeap();
    if (ref.heap.id !== heap.id) {
      throw new HeapMismatchError(
        this.storing
          ? `spindle: ${this.label}: this ${ref.kind} lives in another SharedHeap; a shared object can only refer to objects of its own heap (create both with the same { heap })`
          : `spindle: ${this.label} is a ${ref.kind} that lives in a standalone SharedHeap; ` +
            `only handles in the runtime's heap (the default, globalHeap()) can cross a spawn`,
      );
    }
    this.u8(T_SHARED);
    this.str(ref.kind);
    this.u32(ref.offset);
    this.u32(ref.generation ?? heap.generation(ref.offset));
    if (ref.commit !== undefined && !this.storing) {
      if (this.movedAlready(h)) {
        const where = this.path.length ? `${this.label} (at ${pathOf(this.path)})` : this.label;
        throw typeError(
          `spindle: ${where} is a ${ref.kind} already passed once in this spawn: it can only move once. Pass .clone() for each further use.`,
          ErrorCode.NOT_SENDABLE,
        );
      }
      this.moved[this.nMoved] = h;
      this.commits[this.nMoved++] = ref.commit;
    }
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
    for (const k of Object.keys(e)) ownField(own, k, (e as unknown as Record<string, unknown>)[k]);
    if (e instanceof AggregateError) own.errors = e.errors;
    this.path.push('<fields>');
    this.value(own);
    this.path.pop();
    this.u8('cause' in e ? 1 : 0);
  }
}

/** The owned handles (Arcs, Weaks) revived for a task's arguments, by argument array. */
const ownedByArgs = new WeakMap<unknown[], Owned[]>();

/** Reads values written by `Encoder` from (possibly shared) memory. */
export class Decoder {
  private u8: Uint8Array = new Uint8Array(0);
  private dv: DataView = new DataView(new ArrayBuffer(0));
  private pos = 0;
  /** The memory being decoded as a Node Buffer, for long strings. */
  private readonly strView = new BufferView();
  /** The heap handles are revived in: null = the process-wide heap. */
  private heap: SharedHeap | null = null;
  /**
   * Containers made so far in this decode, in encode order (targets of T_REF):
   * `objs[0..nObjs)`. Counted rather than cut with `length = 0` between
   * decodes: setting an array's length is a runtime call, and the cut array
   * grows its backing store again on the next decode's first push (together
   * a tenth of decoding a small object). The entries are cleared, not kept, so
   * that a decoded value is not held alive here until the next decode.
   */
  private objs: unknown[] = [];
  private nObjs = 0;
  /** True while decoding a task's arguments: owned handles revived are collected in `owned`. */
  private collecting = false;
  private owned: Owned[] | null = null;
  /** @internal True while a decode runs (a reviver could re-enter). */
  busy = false;

  constructor(private readonly sabs: SabTable | null) {}

  private at(u8: Uint8Array, dv: DataView, pos: number, heap: SharedHeap | null): void {
    this.u8 = u8;
    this.dv = dv;
    this.pos = pos;
    this.heap = heap;
    if (this.nObjs !== 0) this.forgetObjs();
  }

  private forgetObjs(): void {
    const n = this.nObjs;
    this.nObjs = 0;
    // A large graph's table is dropped rather than kept at its size for every later decode.
    if (n > 1024) this.objs = [];
    else for (let i = 0; i < n; i++) this.objs[i] = undefined;
  }

  /**
   * Decodes a task's argument list. The owned handles revived (Arcs moved
   * into the task) are remembered with the returned array: see {@link ownedArgs}.
   * If decoding fails part-way, the ones already revived are released.
   */
  decodeArgs(u8: Uint8Array, dv: DataView, pos: number): unknown[] {
    this.at(u8, dv, pos, null);
    this.busy = true;
    this.collecting = true;
    this.owned = null;
    try {
      const n = this.dv.getUint16(this.pos, true);
      this.pos += 2;
      const args = new Array<unknown>(n);
      for (let i = 0; i < n; i++) args[i] = this.value();
      if (this.owned !== null) ownedByArgs.set(args, this.owned);
      return args;
    } catch (e) {
      if (this.owned !== null) releaseAll(this.owned, undefined);
      throw tooDeep(e, DECODE_TOO_DEEP);
    } finally {
      this.collecting = false;
      this.owned = null;
      this.busy = false;
    }
  }

  decodeValue(u8: Uint8Array, dv: DataView, pos: number): unknown {
    this.at(u8, dv, pos, null);
    this.busy = true;
    try {
      return this.value();
    } catch (e) {
      throw tooDeep(e, DECODE_TOO_DEEP);
    } finally {
      this.busy = false;
    }
  }

  /** Decodes a value stored in `heap` at `off` (`len` bytes) by {@link Encoder.encodeStored}. */
  decodeStored(heap: SharedHeap, off: number, len: number): unknown {
    this.at(heap.u8For(off + len), heap.dvFor(off + len), off, heap);
    this.busy = true;
    try {
      return this.value();
    } catch (e) {
      throw tooDeep(e, DECODE_TOO_DEEP);
    } finally {
      this.busy = false;
    }
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
    return this.strBody(tag!, n);
  }

  /**
   * A short Latin-1 string through {@link strCache}: when the same string was
   * decoded before, the same string object comes back (for a key, already
   * internalized by its first use as a property name), so that neither a new
   * string nor a string-table lookup is paid (a third of an object's decode).
   * Keys are cached at once; values only when their signature was seen before,
   * so that strings that never repeat cost one typed-array store, not a cache
   * entry each.
   */
  private cachedStr(isKey: boolean): string {
    const u8 = this.u8;
    const at = this.pos;
    const n = this.dv.getUint32(at + 1, true);
    if (u8[at] !== T_STR8 || n === 0 || n > STR_MAX) return this.str();
    const p = at + 5;
    const sig = ((n << 24) ^ (u8[p]! << 16) ^ (u8[p + (n >> 1)]! << 8) ^ u8[p + n - 1]!) | 0;
    const slot = Math.imul(sig, 0x9e3779b1) >>> (32 - STR_BITS);
    const cached = strCache[slot];
    if (cached !== undefined && strSig[slot] === sig) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (cached.charCodeAt(i) !== u8[p + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.pos = p + n;
        return cached;
      }
    }
    const k = this.str();
    if (isKey || strSeen[slot] === sig) {
      strCache[slot] = k;
      strSig[slot] = sig;
    } else strSeen[slot] = sig;
    return k;
  }

  private strBody(tag: number, n: number): string {
    const from = this.pos;
    if (tag === T_STR8) {
      const end = from + n;
      this.pos = end;
      // Node's latin1 decoder (one byte, one code point: a copy in C++) beats a loop from a few characters on.
      if (n > DECODE_BY_NODE) return this.strView.of(this.u8).toString('latin1', from, end);
      const b = this.u8;
      const codes = shortCodes;
      codes.length = n;
      for (let i = 0; i < n; i++) codes[i] = b[from + i]!;
      return String.fromCharCode.apply(null, codes);
    }
    this.pos += 2 * n;
    if (n > DECODE_BY_NODE) return this.strView.of(this.u8).toString('utf16le', from, this.pos);
    const codes = shortCodes;
    codes.length = n;
    for (let i = 0; i < n; i++) codes[i] = this.dv.getUint16(from + 2 * i, true);
    return String.fromCharCode.apply(null, codes);
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
        this.pos--;
        return this.cachedStr(false); // short strings repeat (names, enums): the cache serves values too
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
        this.objs[this.nObjs++] = a;
        const u8 = this.u8;
        for (let i = 0; i < n; i++) {
          // Numbers read in place, without a call (half the cost of a number array: map()).
          const t = u8[this.pos];
          if (t === T_INT) {
            a[i] = this.dv.getInt32(this.pos + 1, true);
            this.pos += 5;
          } else if (t === T_FLOAT) {
            a[i] = this.dv.getFloat64(this.pos + 1, true);
            this.pos += 9;
          } else if (t === T_HOLE) this.pos++; // left missing: new Array(n) made it a hole
          else a[i] = this.value();
        }
        return a;
      }
      case T_OBJECT: {
        const n = this.u32();
        const o: Record<string, unknown> = {};
        this.objs[this.nObjs++] = o;
        for (let i = 0; i < n; i++) {
          const k = this.cachedStr(true);
          if (k === '__proto__') ownField(o, k, this.value());
          else o[k] = this.value();
        }
        return o;
      }
      case T_TYPED: {
        const code = this.u8[this.pos++];
        const n = this.u32();
        const bytes = this.bytes(n);
        if (code === BUFFER_CODE) return Buffer.from(bytes.buffer, 0, n);
        if (code === DATAVIEW_CODE) return new DataView(bytes.buffer);
        const C = TYPED[code!] as unknown as { new (b: ArrayBuffer): ArrayBufferView };
        return new C(bytes.buffer as ArrayBuffer);
      }
      case T_ARRAYBUFFER:
        return this.bytes(this.u32()).buffer;
      case T_DATE:
        return new Date(this.f64());
      case T_MAP: {
        const n = this.u32();
        const m = new Map();
        this.objs[this.nObjs++] = m;
        for (let i = 0; i < n; i++) {
          const k = this.value();
          m.set(k, this.value());
        }
        return m;
      }
      case T_SET: {
        const n = this.u32();
        const s = new Set();
        this.objs[this.nObjs++] = s;
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      case T_ERROR:
        return this.error();
      case T_BIGINT:
        return BigInt(this.str());
      case T_SHARED: {
        // A handle's kind is one of a few names: through the cache, the same internalized string
        // each time (no new string, and a cheap lookup of its reviver).
        const kind = this.cachedStr(true);
        const offset = this.u32();
        const generation = this.u32();
        const h = reviverFor(kind)(this.heap ?? globalHeap(), offset, generation);
        if (this.collecting && typeof h === 'object' && h !== null && isOwned(h)) (this.owned ??= []).push(h);
        return h;
      }
      case T_REF: {
        const i = this.u32();
        if (i >= this.nObjs) throw corrupt(T_REF, this.pos - 5);
        return this.objs[i];
      }
      case T_SAB:
        return this.sabs!.get(this.u32());
      case T_SAB_VIEW: {
        const code = this.u8[this.pos++];
        const sab = this.sabs!.get(this.u32());
        const offset = this.u32();
        const len = this.u32();
        if (code === BUFFER_CODE) return Buffer.from(sab, offset, len);
        const C = TYPED[code!] as unknown as { new (b: SharedArrayBuffer, o: number, l: number): ArrayBufferView };
        return new C(sab, offset, len);
      }
      case T_V8: {
        const n = this.u32();
        return v8.deserialize(this.bytes(n));
      }
      default:
        throw corrupt(tag, this.pos - 1);
    }
  }

  private error(): Error {
    const name = this.str();
    const message = this.str();
    let e: Error;
    if (name !== 'AggregateError' && registeredErrors.has(name)) {
      e = Object.create(registeredErrors.get(name)!.prototype) as Error;
      Object.defineProperty(e, 'message', { value: message, writable: true, configurable: true, enumerable: false });
      if (e.name !== name) Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false });
    } else {
      // Built with no stack trace of its own: the decoder's frames would be replaced by the sent
      // stack anyway, and capturing them was 90 % of decoding an error (19 us; `npm run bench:codec`).
      e = withoutStack(() => (name === 'AggregateError' ? new AggregateError([], message) : new (ERROR_CLASSES[name] ?? Error)(message)));
      if (e.name !== name) Object.defineProperty(e, 'name', { value: name, writable: true, configurable: true, enumerable: false });
    }
    // Made before its fields are read, so that a field may refer back to it (a cycle).
    this.objs[this.nObjs++] = e;
    const stack = this.value() as string | undefined;
    const cause = this.value();
    const own = this.value() as Record<string, unknown>;
    const hasCause = this.u8[this.pos++] === 1;
    if (name === 'AggregateError') {
      Object.defineProperty(e, 'errors', { value: (own.errors as unknown[]) ?? [], writable: true, configurable: true, enumerable: false });
      delete own.errors;
    }
    if (stack !== undefined) {
      // A constructed error has its own non-enumerable `stack` (a data property on Node 20, an
      // accessor pair on 22 and 24): assigned, it stays so, at a quarter of defineProperty's cost
      // (0.4 against 1.6 us). One made by Object.create (a registered class) has none.
      if (hasOwn(e, 'stack')) (e as { stack: string }).stack = stack;
      else Object.defineProperty(e, 'stack', { value: stack, writable: true, configurable: true, enumerable: false });
    }
    if (hasCause) Object.defineProperty(e, 'cause', { value: cause, writable: true, configurable: true, enumerable: false });
    for (const k of Object.keys(own)) ownField(e, k, own[k]);
    return e;
  }
}

/**
 * Sets an own, enumerable data field. A key named `__proto__` (an own key, as
 * `JSON.parse` makes from untrusted input) must stay one: assigned, it would
 * set the object's prototype instead, and the copy on the other thread would
 * inherit what the original only held (`{"__proto__": {"isAdmin": true}}`
 * would come back with `isAdmin` true).
 */
function ownField(o: object, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
  else (o as Record<string, unknown>)[k] = v;
}

/** Scratch for decoding short Latin-1 strings (see strBody). */
const shortCodes: number[] = [];
/**
 * A payload that is one int32 in the codec's layout: a value ([T_INT, int32], 5 bytes) or an
 * argument list of one int ([1, 0, T_INT, int32], 7 bytes) — a tiny task's argument and result.
 * A slot keeps such a payload's int in its header word (slot.ts `writePayload`), so that handing
 * it over moves one cache line between threads, not two. Returns the payload's length when
 * `src[at..at+len)` is one (its int is the last four bytes), else 0.
 */
export function smallPayloadLength(src: Uint8Array, at: number, len: number): number {
  if (len === 5) return src[at] === T_INT ? 5 : 0;
  if (len === 7) return src[at] === 1 && src[at + 1] === 0 && src[at + 2] === T_INT ? 7 : 0;
  return 0;
}

/** Writes back the bytes of a payload {@link smallPayloadLength} recognised: its length `len` and its int `v`, at `dst[0]`. */
export function rebuildSmallPayload(dst: Uint8Array, len: number, v: number): void {
  let k = 0;
  if (len === 7) {
    dst[0] = 1;
    dst[1] = 0;
    k = 2;
  }
  dst[k] = T_INT;
  dst[k + 1] = v & 0xff;
  dst[k + 2] = (v >> 8) & 0xff;
  dst[k + 3] = (v >> 16) & 0xff;
  dst[k + 4] = (v >> 24) & 0xff;
}

/**
 * Strings longer than these are copied by Node's Buffer codecs (latin1,
 * utf16le: C++) instead of a loop in JavaScript; shorter ones stay in the
 * loop, which beats the call. Measured crossovers: encode 32-64 characters,
 * decode 8-16 (a loop of `charCodeAt` stores is cheaper than one of
 * `fromCharCode` arguments).
 */
export const ENCODE_BY_NODE = 48;
const DECODE_BY_NODE = 16;
/** A character outside Latin-1 (the test for writing a long string as one byte per character). */
export const NOT_LATIN1 = /[^\u0000-\u00ff]/;
const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/**
 * Short strings decoded lately (Decoder.cachedStr): object keys, and values
 * seen twice. Direct-mapped by a signature of the length and three bytes; per
 * thread, shared by its decoders (strings are immutable).
 */
const STR_BITS = 8;
const STR_MAX = 32;
const strCache: (string | undefined)[] = new Array(1 << STR_BITS).fill(undefined);
/** The signature of each cached string (a different one is a miss without comparing characters). */
const strSig = new Int32Array(1 << STR_BITS);
/** The signature last seen per slot, for values (cached on their second sighting). */
const strSeen = new Int32Array(1 << STR_BITS);

function corrupt(tag: number | undefined, at: number): Error {
  return Object.assign(new Error(`spindle: corrupt encoded value (tag ${tag} at byte ${at})`), { code: ErrorCode.INVARIANT });
}

// ───────────────────────── values kept in shared state ─────────────────────────

// One encoder and decoder per thread for shared-state values (no SharedArrayBuffer table).
const storeEncoder = new Encoder(null);
const storeDecoder = new Decoder(null);

/**
 * Encodes `value` for storage in `heap` (Mutex, RwLock, OnceCell, Arc and
 * SharedMap values). Returns a view of a per-thread buffer, valid until the
 * next call on this thread. `what` names the call in errors.
 * @throws TypeError (code ERR_SPINDLE_NOT_SENDABLE) naming the path of a value
 *   that cannot cross threads; HeapMismatchError for a handle of another heap.
 */
export function encodeStored(value: unknown, heap: SharedHeap, what: string): Uint8Array {
  // A getter in the value could store something itself: never share the buffer then.
  return (storeEncoder.busy ? new Encoder(null) : storeEncoder).encodeStored(value, heap, what);
}

/** Decodes the `len` bytes at `off` in `heap` written from {@link encodeStored}'s result. */
export function decodeStored(heap: SharedHeap, off: number, len: number): unknown {
  // The values shared state holds most (counters, flags): no decoder state needed.
  switch (heap.u8For(off + len)[off]) {
    case T_INT:
      return heap.dvFor(off + len).getInt32(off + 1, true);
    case T_FLOAT:
      return heap.dvFor(off + len).getFloat64(off + 1, true);
    case T_TRUE:
      return true;
    case T_FALSE:
      return false;
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
  }
  return (storeDecoder.busy ? new Decoder(null) : storeDecoder).decodeStored(heap, off, len);
}

/** When the stored value at `off` is a shared handle (at its top), its kind, offset and generation. */
export function storedHandle(heap: SharedHeap, off: number, len: number): { kind: string; offset: number; generation: number } | undefined {
  const u8 = heap.u8For(off + len);
  if (u8[off] !== T_SHARED) return undefined;
  const dv = heap.dvFor(off + len);
  const n = dv.getUint32(off + 2, true);
  const kindAt = off + 6;
  let kind = '';
  if (u8[off + 1] === T_STR8) {
    for (let i = 0; i < n; i++) kind += String.fromCharCode(u8[kindAt + i]!);
  } else {
    for (let i = 0; i < n; i++) kind += String.fromCharCode(dv.getUint16(kindAt + 2 * i, true));
  }
  const end = kindAt + (u8[off + 1] === T_STR8 ? n : 2 * n);
  return { kind, offset: dv.getUint32(end, true), generation: dv.getUint32(end + 4, true) };
}

// ───────────────────────── what a task owns ─────────────────────────

/** The owned handles revived for a task's arguments, to release at its end (see {@link ownedArgs}). */
export interface TaskOwned {
  /**
   * Releases (drops) each owned handle the task neither dropped nor moved on.
   * `result` is what the task returned or threw: a handle found in it is being
   * handed to the awaiter and is kept.
   */
  release(result: unknown): void;
}

/**
 * The owned handles (Arcs, Weaks, channel ends, comlink endpoints and actor
 * remotes: whatever implements `[RELEASE]`) moved into a task through `args` (an array returned by
 * {@link Decoder.decodeArgs}), or undefined when there are none. A task owns
 * what it was given, as in Rust: call `release(result)` once the task has
 * ended and its outcome has been routed (encoded, or handed over).
 */
export function ownedArgs(args: unknown[]): TaskOwned | undefined {
  const owned = ownedByArgs.get(args);
  if (owned === undefined) return undefined;
  ownedByArgs.delete(args);
  return { release: (result) => releaseAll(owned, result) };
}

/** Releases every owned handle in `args` at once (a task that will never run). */
export function releaseArgs(args: unknown[]): void {
  ownedArgs(args)?.release(undefined);
}

function releaseAll(owned: Owned[], result: unknown): void {
  const kept = new Set<unknown>();
  if (typeof result === 'object' && result !== null) reachable(result, kept);
  for (const h of owned) {
    if (kept.has(h)) continue;
    try {
      h[RELEASE]();
    } catch (e) {
      // Nobody can catch this at a task's end: report it like a detached panic.
      process.stderr.write(`spindle: dropping a handle moved into a task (an Arc, a channel end) at the task's end failed: ${(e as Error)?.message ?? String(e)}\n`);
    }
  }
}

/** Adds to `seen` every object reachable from `v` through arrays, plain objects, Maps, Sets and errors. */
function reachable(v: object, seen: Set<unknown>): void {
  if (seen.has(v)) return;
  seen.add(v);
  if (isSharedHandle(v)) return;
  const visit = (x: unknown): void => {
    if (typeof x === 'object' && x !== null) reachable(x, seen);
  };
  if (Array.isArray(v)) for (const x of v) visit(x);
  else if (v instanceof Map) for (const [k, x] of v) (visit(k), visit(x));
  else if (v instanceof Set) for (const x of v) visit(x);
  else if (v instanceof Error) (visit(v.cause), Object.values(v).forEach(visit));
  else if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) Object.values(v).forEach(visit);
}
