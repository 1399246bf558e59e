/**
 * SharedMap: a hash map from string keys to cloneable values, in the shared
 * heap, sharded by key hash with one lock per shard — the Tokio tutorial's
 * answer to a contended `Arc<Mutex<HashMap>>`. Every operation locks one shard
 * for a few hundred nanoseconds; no operation ever sends a message.
 *
 * Map block (Int32 index from the block's first word):          writer → reader
 *   +0                kind tag                                   creator → revivers
 *   +1                NSHARDS (a power of two)                   creator → everyone
 *   +2 + i*SHARD_WORDS  shard i:
 *     +0..+17   ticket lock (ticket-lock.ts)                     shard users
 *     +18 COUNT     entries in the shard                         under the lock → size (any time)
 *     +19 BUCKETS   offset of the bucket array block             under the lock
 *     +20 NBUCKETS  its length (a power of two)                  under the lock
 * Bucket array: NBUCKETS Int32 words, each the first entry of a chain (0 = none); under the lock.
 * Entry block (byte offset from the entry):                     all under the lock
 *   +0 NEXT entry in the chain   +4 HASH   +8 KEY_UNITS (UTF-16 code units)   +12 VALUE_BYTES
 *   +16 key as UTF-16 code units (little-endian), then the encoded value (codec.ts)
 *
 * The shard lock is taken with a blocking wait, also on the main thread:
 * holds are short (one hash-chain operation) except inside `update(key, fn)`,
 * which runs `fn` under the lock — keep `fn` quick and synchronous.
 */
import { decodeValue, encodeValue } from './value.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { POISON, TL_WORDS, tlClearPoison, tlLockBlocking, tlUnlock } from './ticket-lock.js';

const NSHARDS = 1;
const SHARDS = 2;
const COUNT = TL_WORDS;
const BUCKETS = TL_WORDS + 1;
const NBUCKETS = TL_WORDS + 2;
const SHARD_WORDS = TL_WORDS + 3;

const E_NEXT = 0;
const E_HASH = 1;
const E_KEY_UNITS = 2;
const E_VALUE_BYTES = 3;
const E_KEY = 16;

const INITIAL_BUCKETS = 16;
/** Average chain length that triggers doubling a shard's bucket array. */
const MAX_LOAD = 2;

/** Options for {@link SharedMap}. */
export interface SharedMapOptions extends SharedOptions {
  /** Number of shards (a power of two, default 16): more shards, less contention. */
  shards?: number;
}

function hashKey(key: string): number {
  let h = 0x811c9dc5; // FNV-1a over UTF-16 code units
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 16777619);
  return h >>> 0;
}

function checkKey(key: unknown, op: string): void {
  if (typeof key !== 'string') {
    throw new TypeError(`spindle: SharedMap.${op}: keys are strings (got ${typeof key}); convert with String(key) or JSON.stringify`);
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
      throw new RangeError(`spindle: new SharedMap({ shards }): shards must be a power of two from 1 to 1024 (got ${wanted})`);
    }
    super('SharedMap', (SHARDS + wanted * SHARD_WORDS) * 4, opts, (heap, off) => {
      const buckets: number[] = [];
      try {
        for (let s = 0; s < wanted; s++) buckets.push(heap.alloc(INITIAL_BUCKETS * 4));
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
      Atomics.store(i32, (off >> 2) + NSHARDS, wanted);
    });
    this.#nshards = Atomics.load(this.i32, this.w(NSHARDS));
  }

  #shard(hash: number): number {
    return this.w(SHARDS) + ((hash >>> 16) & (this.#nshards - 1)) * SHARD_WORDS;
  }

  /** Runs `fn` holding shard `sh`'s lock. */
  #locked<R>(sh: number, fn: () => R): R {
    let held = tlLockBlocking(this.heap, this.i32, sh);
    if ((held & POISON) !== 0) {
      // A thread died holding this shard, necessarily inside update()'s fn,
      // before anything was written: the chains are intact. Carry on.
      tlClearPoison(this.i32, sh);
      held &= ~POISON;
    }
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
    return decodeValue(this.heap, e + E_KEY + units * 2, Atomics.load(i32, (e >> 2) + E_VALUE_BYTES)) as V;
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

  /** Checks `key`, then runs `fn` holding the lock of the shard it hashes to. */
  #withKey<R>(op: string, key: string, fn: (sh: number, hash: number) => R): R {
    this.live(op);
    checkKey(key, op);
    const hash = hashKey(key);
    const sh = this.#shard(hash);
    return this.#locked(sh, () => fn(sh, hash));
  }

  /** The value for `key` (a decoded copy), or undefined. */
  get(key: K): V | undefined {
    return this.#withKey('get(key)', key, (sh, hash) => {
      const e = this.#find(sh, key, hash);
      return e === 0 ? undefined : this.#valueOf(e);
    });
  }

  /** True when `key` has a value. */
  has(key: K): boolean {
    return this.#withKey('has(key)', key, (sh, hash) => this.#find(sh, key, hash) !== 0);
  }

  /** Stores `value` (encoded; must be structured-cloneable or a shared handle) under `key`. */
  set(key: K, value: V): this {
    // Encode before locking: the shard is held only for the copy.
    const bytes = encodeValue(value, this.heap, 'SharedMap.set(key, value)');
    this.#withKey('set(key, value)', key, (sh, hash) => this.#put(sh, key, hash, bytes));
    return this;
  }

  /** Removes `key`; true if it was there. */
  delete(key: K): boolean {
    return this.#withKey('delete(key)', key, (sh, hash) => this.#remove(sh, key, hash));
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
    return this.#withKey('update(key, fn)', key, (sh, hash) => {
      const e = this.#find(sh, key, hash);
      const next = fn(e === 0 ? undefined : this.#valueOf(e));
      if (next === undefined) this.#remove(sh, key, hash);
      else this.#put(sh, key, hash, encodeValue(next, this.heap, 'SharedMap.update(key, fn)'));
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
      this.#locked(sh, () => this.#clearShard(sh));
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
      const batch = this.#locked(sh, () => this.#entriesOf(sh).map((e) => [this.#keyOf(e) as K, this.#valueOf(e)] as [K, V]));
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
  }
}

registerObjectKind('SharedMap', (at) => new SharedMap(at as never));
