/**
 * SharedMap: a hash map from string keys to cloneable values, in the shared
 * heap, sharded by key hash with one lock per shard — the Tokio tutorial's
 * answer to a contended `Arc<Mutex<HashMap>>`. Every operation locks one shard
 * for a few hundred nanoseconds; no operation ever sends a message. Layouts:
 * SHARED_MAP_BLOCK, MAP_SHARD, MAP_ENTRY below.
 *
 * The shard lock is taken with a blocking wait, also on the main thread:
 * holds are short (one hash-chain operation) except inside `update(key, fn)`,
 * which runs `fn` under the lock — keep `fn` quick and synchronous. The main
 * thread may block here because a holder that dies is noticed without its
 * event loop (ticket-lock.ts, heap.ts thread table); and a call back into the
 * same shard from inside `fn` is refused (DeadlockError) rather than waited for.
 */
import { decodeStored, encodeStored } from '../shared/codec.js';
import { wordTable } from '../shared/word-table.js';
import { ErrorCode, SpindleError, rangeError, typeError } from '../errors.js';
import type { Attach, SharedOptions } from './block.js';
import { DeadlockError } from './errors.js';
import { SharedObject, registerObjectKind } from './object.js';
import { POISON, TL_WORDS, mainWaitLimit, ownerOf, selfTag, tlClearPoison, tlLockBlocking, tlState, tlUnlock } from './ticket-lock.js';

const KIND = 0;
const NSHARDS = 1;
const NAME = 2;
const NAME_LEN = 3;
const SHARDS = 4;

const LOCK = 0;
const COUNT = TL_WORDS;
const BUCKETS = TL_WORDS + 1;
const NBUCKETS = TL_WORDS + 2;
const SHARD_WORDS = TL_WORDS + 3;

// Entry words (Int32 index from the entry's first word), then the key at byte E_KEY.
const E_NEXT = 0;
const E_HASH = 1;
const E_KEY_UNITS = 2;
const E_VALUE_BYTES = 3;
const E_KEY = 16;

export const SHARED_MAP_BLOCK = wordTable({
  title: 'SharedMap block',
  base: 'A `SharedMap`\'s heap block (`src/sync/shared-map.ts`), from its first word',
  unit: 'word',
  size: SHARDS + 1,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'NSHARDS', at: NSHARDS, words: 1, meaning: 'number of shards (a power of two)', access: 'creator → everyone' },
    { name: 'NAME', at: NAME, words: 1, meaning: 'offset of the encoded `{ name }` (0 = none; for error messages)', access: 'creator → error paths' },
    { name: 'NAME_LEN', at: NAME_LEN, words: 1, meaning: 'its encoded length', access: 'creator → error paths' },
    { name: 'SHARDS', at: SHARDS, words: 1, meaning: `NSHARDS shards of ${SHARD_WORDS} words each (table below), shard i at SHARDS + i × ${SHARD_WORDS}`, access: 'shard users' },
  ],
  note: 'The last row stands for NSHARDS × SHARD_WORDS words: the block is `(SHARDS + NSHARDS × SHARD_WORDS) × 4` bytes.',
});

export const MAP_SHARD = wordTable({
  title: 'SharedMap shard',
  base: 'Shard i of a SharedMap block, from its first word',
  unit: 'word',
  size: SHARD_WORDS,
  rows: [
    { name: 'LOCK', at: LOCK, words: TL_WORDS, meaning: 'ticket lock (table above)', access: 'shard users' },
    { name: 'COUNT', at: COUNT, words: 1, meaning: 'entries in the shard', access: 'under the lock → size (any time)' },
    { name: 'BUCKETS', at: BUCKETS, words: 1, meaning: 'offset of the bucket array: NBUCKETS Int32 words, each the first entry of a chain (0 = none)', access: 'under the lock' },
    { name: 'NBUCKETS', at: NBUCKETS, words: 1, meaning: 'its length (a power of two)', access: 'under the lock' },
  ],
});

export const MAP_ENTRY = wordTable({
  title: 'SharedMap entry',
  base: 'One entry block, all under its shard\'s lock',
  unit: 'byte',
  size: E_KEY + 1,
  rows: [
    { name: 'E_NEXT', at: E_NEXT * 4, words: 4, meaning: 'next entry in the chain (0 = end)', access: 'under the lock' },
    { name: 'E_HASH', at: E_HASH * 4, words: 4, meaning: 'FNV-1a hash of the key', access: 'under the lock' },
    { name: 'E_KEY_UNITS', at: E_KEY_UNITS * 4, words: 4, meaning: 'key length in UTF-16 code units', access: 'under the lock' },
    { name: 'E_VALUE_BYTES', at: E_VALUE_BYTES * 4, words: 4, meaning: 'encoded value length', access: 'under the lock' },
    { name: 'E_KEY', at: E_KEY, words: 1, meaning: 'the key (UTF-16 code units, little-endian), then the value as the value codec writes it (`encodeStored`)', access: 'under the lock' },
  ],
});

const INITIAL_BUCKETS = 16;
/** Average chain length that triggers doubling a shard's bucket array. */
const MAX_LOAD = 2;

/** Options for {@link SharedMap}. */
export interface SharedMapOptions extends SharedOptions {
  /** Number of shards (a power of two, default 16): more shards, less contention. */
  shards?: number;
  /** A name for error messages (e.g. 'sessions'), seen from every thread. */
  name?: string;
}

/** The update() running on this thread, for the message of a re-entry (a DeadlockError). */
let inUpdate: { map: SharedMap<string, unknown>; key: string } | null = null;

function hashKey(key: string): number {
  let h = 0x811c9dc5; // FNV-1a over UTF-16 code units
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

function checkKey(key: unknown, op: string): void {
  if (typeof key !== 'string') {
    throw typeError(`spindle: SharedMap.${op}: keys are strings (got ${typeof key}); convert with String(key) or JSON.stringify`);
  }
}

/**
 * A concurrent map in shared memory; each thread's handle sees the same entries.
 *
 * ```ts
 * const db = new SharedMap<string, string>();
 * db.set('hello', 'world');              // from any thread
 * db.update('hits', (n = 0) => n + 1);  // read-modify-write under the shard lock
 * ```
 */
export class SharedMap<K extends string = string, V = unknown> extends SharedObject implements Iterable<[K, V]> {
  readonly #nshards: number;

  /** Allocates an empty map. */
  constructor(opts?: SharedMapOptions);
  constructor(opts?: SharedMapOptions | Attach) {
    const wanted = (opts as SharedMapOptions | undefined)?.shards ?? 16;
    if (!Number.isInteger(wanted) || wanted < 1 || wanted > 1024 || (wanted & (wanted - 1)) !== 0) {
      throw rangeError(`spindle: new SharedMap({ shards }): shards must be a power of two from 1 to 1024 (got ${wanted})`);
    }
    const name = (opts as SharedMapOptions | undefined)?.name;
    if (name !== undefined && typeof name !== 'string') throw typeError(`spindle: new SharedMap({ name }): name must be a string (got ${typeof name})`);
    super('SharedMap', (SHARDS + wanted * SHARD_WORDS) * 4, opts, (heap, off) => {
      const buckets: number[] = [];
      let nameAt = 0;
      let nameLen = 0;
      try {
        for (let s = 0; s < wanted; s++) buckets.push(heap.alloc(INITIAL_BUCKETS * 4));
        if (name !== undefined) {
          const bytes = encodeStored(name, heap, 'new SharedMap({ name })');
          nameLen = bytes.length;
          nameAt = heap.alloc(nameLen);
          heap.u8For(nameAt + nameLen).set(bytes, nameAt);
        }
      } catch (e) {
        for (const b of buckets) heap.free(b);
        throw e;
      }
      const i32 = heap.i32For(Math.max(off + (SHARDS + wanted * SHARD_WORDS) * 4, ...buckets.map((b) => b + INITIAL_BUCKETS * 4)));
      for (let s = 0; s < wanted; s++) {
        const sh = (off >> 2) + SHARDS + s * SHARD_WORDS;
        i32.fill(0, buckets[s]! >> 2, (buckets[s]! >> 2) + INITIAL_BUCKETS);
        Atomics.store(i32, sh + BUCKETS, buckets[s]!);
        Atomics.store(i32, sh + NBUCKETS, INITIAL_BUCKETS);
      }
      Atomics.store(i32, (off >> 2) + NAME, nameAt);
      Atomics.store(i32, (off >> 2) + NAME_LEN, nameLen);
      Atomics.store(i32, (off >> 2) + NSHARDS, wanted);
    });
    this.#nshards = Atomics.load(this.i32, this.w(NSHARDS));
  }

  #shard(hash: number): number {
    return this.w(SHARDS) + ((hash >>> 16) & (this.#nshards - 1)) * SHARD_WORDS;
  }

  /** How errors name this map: `SharedMap 'sessions'`, or by its offset. */
  #label(): string {
    const at = Atomics.load(this.i32, this.w(NAME));
    if (at === 0) return `SharedMap (heap offset ${this.off})`;
    return `SharedMap ${JSON.stringify(decodeStored(this.heap, at, Atomics.load(this.i32, this.w(NAME_LEN))))}`;
  }

  /**
   * Takes shard `sh`'s lock and returns the held state (release it with
   * tlUnlock in a `finally`); `op` and `key` name the call in errors.
   */
  #lock(sh: number, op: string, key: string | undefined): number {
    // This thread holds the shard already: only possible from inside update()'s
    // fn (holds are synchronous), and waiting would never end.
    if (ownerOf(tlState(this.i32, sh)) === selfTag) throw this.#reentry(op, key);
    let held = tlLockBlocking(this.heap, this.i32, sh, true);
    if (held === undefined) throw this.#gaveUp(op, key);
    if ((held & POISON) !== 0) {
      // A thread died holding this shard. With process.exit that can only be
      // inside update()'s fn, before anything was written: the chains are
      // intact and the update did not happen. Carry on.
      tlClearPoison(this.i32, sh);
      held &= ~POISON;
    }
    return held;
  }

  /** Runs `fn` holding shard `sh`'s lock. */
  #locked<R>(sh: number, op: string, key: string | undefined, fn: () => R): R {
    const held = this.#lock(sh, op, key);
    try {
      return fn();
    } finally {
      tlUnlock(this.i32, sh, held);
    }
  }

  /** The entry for `key` in shard `sh` (under its lock), or 0. */
  #find(sh: number, key: string, hash: number): number {
    const heap = this.heap;
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    const buckets = Atomics.load(this.i32, sh + BUCKETS);
    let i32 = heap.i32For(buckets + nb * 4);
    let e = Atomics.load(i32, (buckets >> 2) + (hash & (nb - 1)));
    while (e !== 0) {
      i32 = heap.i32For(e + E_KEY);
      const w = e >> 2;
      if (Atomics.load(i32, w + E_HASH) === (hash | 0) && Atomics.load(i32, w + E_KEY_UNITS) === key.length && this.#keyIs(e, key)) return e;
      e = Atomics.load(i32, w + E_NEXT);
    }
    return 0;
  }

  #keyIs(e: number, key: string): boolean {
    const u8 = this.heap.u8For(e + E_KEY + key.length * 2);
    for (let i = 0, p = e + E_KEY; i < key.length; i++, p += 2) {
      if ((u8[p]! | (u8[p + 1]! << 8)) !== key.charCodeAt(i)) return false;
    }
    return true;
  }

  #keyOf(e: number): string {
    const units = Atomics.load(this.heap.i32For(e + E_KEY), (e >> 2) + E_KEY_UNITS);
    const u8 = this.heap.u8For(e + E_KEY + units * 2);
    let s = '';
    for (let i = 0, p = e + E_KEY; i < units; i++, p += 2) s += String.fromCharCode(u8[p]! | (u8[p + 1]! << 8));
    return s;
  }

  #valueOf(e: number): V {
    const i32 = this.heap.i32For(e + E_KEY);
    const units = Atomics.load(i32, (e >> 2) + E_KEY_UNITS);
    return decodeStored(this.heap, e + E_KEY + units * 2, Atomics.load(i32, (e >> 2) + E_VALUE_BYTES)) as V;
  }

  /** Stores encoded `bytes` for `key` in shard `sh` (under its lock). */
  #put(sh: number, key: string, hash: number, bytes: Uint8Array): void {
    const heap = this.heap;
    const old = this.#find(sh, key, hash);
    const need = E_KEY + key.length * 2 + bytes.length;
    if (old !== 0 && need <= heap.usableSize(old)) {
      heap.u8For(old + need).set(bytes, old + E_KEY + key.length * 2);
      Atomics.store(heap.i32For(old + E_KEY), (old >> 2) + E_VALUE_BYTES, bytes.length);
      return;
    }
    const e = heap.alloc(need);
    const i32 = heap.i32For(e + need);
    const u8 = heap.u8For(e + need);
    for (let i = 0, p = e + E_KEY; i < key.length; i++, p += 2) {
      const c = key.charCodeAt(i);
      u8[p] = c & 0xff;
      u8[p + 1] = c >>> 8;
    }
    u8.set(bytes, e + E_KEY + key.length * 2);
    Atomics.store(i32, (e >> 2) + E_HASH, hash | 0);
    Atomics.store(i32, (e >> 2) + E_KEY_UNITS, key.length);
    Atomics.store(i32, (e >> 2) + E_VALUE_BYTES, bytes.length);
    if (old !== 0) this.#unlink(sh, old, hash);
    this.#link(sh, e, hash);
    if (old !== 0) {
      heap.free(old);
      return;
    }
    const count = Atomics.add(this.i32, sh + COUNT, 1) + 1;
    if (count > MAX_LOAD * Atomics.load(this.i32, sh + NBUCKETS)) this.#grow(sh);
  }

  #link(sh: number, e: number, hash: number): void {
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    const slot = (Atomics.load(this.i32, sh + BUCKETS) >> 2) + (hash & (nb - 1));
    const i32 = this.heap.i32For(Math.max(e + E_KEY, (slot + 1) * 4));
    Atomics.store(i32, (e >> 2) + E_NEXT, Atomics.load(i32, slot));
    Atomics.store(i32, slot, e);
  }

  #unlink(sh: number, e: number, hash: number): void {
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    let at = (Atomics.load(this.i32, sh + BUCKETS) >> 2) + (hash & (nb - 1));
    for (;;) {
      const i32 = this.heap.i32For((at + 1) * 4);
      const cur = Atomics.load(i32, at);
      if (cur === e) {
        Atomics.store(i32, at, Atomics.load(this.heap.i32For(e + E_KEY), (e >> 2) + E_NEXT));
        return;
      }
      at = (cur >> 2) + E_NEXT;
    }
  }

  /** Doubles shard `sh`'s bucket array and relinks its entries (under its lock). */
  #grow(sh: number): void {
    const heap = this.heap;
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    const oldB = Atomics.load(this.i32, sh + BUCKETS);
    let fresh: number;
    try {
      fresh = heap.alloc(nb * 8);
    } catch {
      return; // out of memory: longer chains, still correct
    }
    const entries = this.#entriesOf(sh);
    heap.i32For(fresh + nb * 8).fill(0, fresh >> 2, (fresh >> 2) + nb * 2);
    Atomics.store(this.i32, sh + BUCKETS, fresh);
    Atomics.store(this.i32, sh + NBUCKETS, nb * 2);
    for (const e of entries) this.#link(sh, e, Atomics.load(heap.i32For(e + E_KEY), (e >> 2) + E_HASH));
    heap.free(oldB);
  }

  /** Every entry offset of shard `sh` (under its lock). */
  #entriesOf(sh: number): number[] {
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    const b = Atomics.load(this.i32, sh + BUCKETS) >> 2;
    const out: number[] = [];
    const i32 = this.heap.i32For((b + nb) * 4);
    for (let i = 0; i < nb; i++) {
      for (let e = Atomics.load(i32, b + i); e !== 0; e = Atomics.load(this.heap.i32For(e + E_KEY), (e >> 2) + E_NEXT)) out.push(e);
    }
    return out;
  }

  #reentry(op: string, key: string | undefined): DeadlockError {
    const call = key === undefined ? `${op}` : `${op.replace(/\(.*$/, '')}(${JSON.stringify(key).replace(/^"|"$/g, "'")})`;
    const outer = inUpdate !== null && inUpdate.map._is(this as SharedMap<string, unknown>) ? inUpdate.key : undefined;
    const within = outer === undefined ? 'inside update(key, fn) of the same map' : `inside update('${outer}', fn)`;
    return new DeadlockError(
      `spindle: ${this.#label()}: ${call} was called ${within}, and ${outer === key ? 'that key' : 'both keys'} live in a shard whose lock this thread ` +
        'already holds, so waiting for it would never end. Read the current value from fn\'s argument instead of calling the map inside fn, ' +
        'or make the other call after update returns.',
    );
  }

  #gaveUp(op: string, key: string | undefined): SpindleError {
    return new SpindleError(
      ErrorCode.LOCK_TIMEOUT,
      `spindle: ${this.#label()}.${op}${key === undefined ? '' : ` for '${key}'`} on the main thread: the shard has been held by another thread for over ` +
        `${mainWaitLimit()} ms, and this platform has no /proc to tell whether that thread is alive. The main thread does not block longer: ` +
        'nothing was changed. Retry later, keep update() callbacks short, or make the call from a task.',
    );
  }

  // The per-key operations lock and unlock inline (no closure per call: they are the hot path).

  /** The value for `key` (a decoded copy), or undefined. */
  get(key: K): V | undefined {
    this.live('get(key)');
    checkKey(key, 'get(key)');
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    const held = this.#lock(sh, 'get(key)', key);
    try {
      const e = this.#find(sh, key, hash);
      return e === 0 ? undefined : this.#valueOf(e);
    } finally {
      tlUnlock(this.i32, sh, held);
    }
  }

  /** True when `key` has a value. */
  has(key: K): boolean {
    this.live('has(key)');
    checkKey(key, 'has(key)');
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    const held = this.#lock(sh, 'has(key)', key);
    try {
      return this.#find(sh, key, hash) !== 0;
    } finally {
      tlUnlock(this.i32, sh, held);
    }
  }

  /** Stores `value` (encoded; must be structured-cloneable or a shared handle) under `key`. */
  set(key: K, value: V): this {
    this.live('set(key, value)');
    checkKey(key, 'set(key, value)');
    // Encode before locking: the shard is held only for the copy.
    const bytes = encodeStored(value, this.heap, 'SharedMap.set(key, value)');
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    const held = this.#lock(sh, 'set(key, value)', key);
    try {
      this.#put(sh, key, hash, bytes);
    } finally {
      tlUnlock(this.i32, sh, held);
    }
    return this;
  }

  /** Removes `key`; true if it was there. */
  delete(key: K): boolean {
    this.live('delete(key)');
    checkKey(key, 'delete(key)');
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    const held = this.#lock(sh, 'delete(key)', key);
    try {
      return this.#remove(sh, key, hash);
    } finally {
      tlUnlock(this.i32, sh, held);
    }
  }

  #remove(sh: number, key: string, hash: number): boolean {
    const e = this.#find(sh, key, hash);
    if (e === 0) return false;
    this.#unlink(sh, e, hash);
    this.heap.free(e);
    Atomics.sub(this.i32, sh + COUNT, 1);
    return true;
  }

  /**
   * Replaces the value of `key` with `fn(current)` atomically (under the shard
   * lock); returning undefined deletes the key. Returns the new value.
   * `fn` must be synchronous and quick: other threads touching the shard wait.
   */
  update(key: K, fn: (current: V | undefined) => V | undefined): V | undefined {
    this.live('update(key, fn)');
    checkKey(key, 'update(key, fn)');
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    return this.#locked(sh, 'update(key, fn)', key, () => {
      const e = this.#find(sh, key, hash);
      const outer = inUpdate;
      inUpdate = { map: this as SharedMap<string, unknown>, key };
      let next: V | undefined;
      try {
        next = fn(e === 0 ? undefined : this.#valueOf(e));
      } finally {
        inUpdate = outer;
      }
      if (next === undefined) this.#remove(sh, key, hash);
      else this.#put(sh, key, hash, encodeStored(next, this.heap, 'SharedMap.update(key, fn)'));
      return next;
    });
  }

  /** Number of entries (exact when no thread is writing; a moment's sum otherwise). */
  get size(): number {
    this.live('size');
    let n = 0;
    for (let s = 0; s < this.#nshards; s++) n += Atomics.load(this.i32, this.w(SHARDS) + s * SHARD_WORDS + COUNT);
    return n;
  }

  /** Removes every entry. */
  clear(): void {
    this.live('clear()');
    for (let s = 0; s < this.#nshards; s++) {
      const sh = this.w(SHARDS) + s * SHARD_WORDS;
      this.#locked(sh, 'clear()', undefined, () => this.#clearShard(sh));
    }
  }

  #clearShard(sh: number): void {
    const nb = Atomics.load(this.i32, sh + NBUCKETS);
    const b = Atomics.load(this.i32, sh + BUCKETS);
    for (const e of this.#entriesOf(sh)) this.heap.free(e);
    this.heap.i32For(b + nb * 4).fill(0, b >> 2, (b >> 2) + nb);
    Atomics.store(this.i32, sh + COUNT, 0);
  }

  /**
   * Entries, shard by shard: each shard is copied under its lock, so every
   * entry seen was present at some moment; writes to other shards may or may
   * not show (like a `DashMap` iteration).
   */
  *entries(): IterableIterator<[K, V]> {
    this.live('entries()');
    for (let s = 0; s < this.#nshards; s++) {
      const sh = this.w(SHARDS) + s * SHARD_WORDS;
      const batch = this.#locked(sh, 'entries()', undefined, () => this.#entriesOf(sh).map((e) => [this.#keyOf(e) as K, this.#valueOf(e)] as [K, V]));
      yield* batch;
    }
  }

  /** Keys (see {@link entries} for consistency). */
  *keys(): IterableIterator<K> {
    for (const [k] of this.entries()) yield k;
  }

  /** Values (see {@link entries} for consistency). */
  *values(): IterableIterator<V> {
    for (const [, v] of this.entries()) yield v;
  }

  /** Same as {@link entries}. */
  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }

  protected override releaseContents(): void {
    this.clear();
    for (let s = 0; s < this.#nshards; s++) this.heap.free(Atomics.load(this.i32, this.w(SHARDS) + s * SHARD_WORDS + BUCKETS));
    const name = Atomics.exchange(this.i32, this.w(NAME), 0);
    if (name !== 0) this.heap.free(name);
  }

  /** @internal Same map (same heap, same block). */
  _is(other: SharedMap<string, unknown>): boolean {
    return other.heap.id === this.heap.id && other.off === this.off;
  }
}

registerObjectKind('SharedMap', (at) => new SharedMap(at as never));
