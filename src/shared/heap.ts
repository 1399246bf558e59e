/**
 * The shared heap: one growable SharedArrayBuffer with a size-class allocator
 * that every thread can call. Everything shared (Arc blocks, lock words,
 * encoded values, shared maps) lives here, so a handle is just an offset.
 *
 * Allocator: segregated free lists, two size classes per power of two
 * (16, 24, 32, 48, 64, 96, ...; at most 33% internal waste). A freed block is
 * reused only by its own class: no splitting, no coalescing. In front of the
 * shared lists each thread keeps a private cache of small free blocks (tcmalloc's
 * thread cache), so an alloc/free pair is a tag write, a tag CAS and two adds
 * on one counter word, no lock (~120 ns); the lock is taken once per batch.
 * The untouched tail of the buffer is carved by a bump pointer; when it runs
 * out the buffer grows (doubling, up to `maxBytes`) and every thread sees the
 * new length. Price of the design: memory parked in a class no longer used,
 * and up to 64 small blocks per class per thread held in that thread's cache
 * (given back on worker exit or `trim()`; lost if a worker is terminated).

 * Generations. The word before each block's tag... (see the block table below): it counts how often the
 * block was freed. A handle records the generation of the block it names and
 * checks it on every access, so a handle to a freed block — or to a block
 * since reused by another object — is refused instead of misread.
 *
 * Thread table. Each worker thread that attaches to a heap records its
 * thread id and its OS thread id (from /proc/thread-self) in the header. A
 * thread waiting for a lock can then tell that the holder is gone by looking
 * for /proc/self/task/<tid> — without anyone's event loop, which matters for
 * the main thread: it cannot run its worker 'exit' handlers while it is
 * blocked (see docs/shared-state.md, "The main-thread rule").
 *
 * The layouts are the word tables after the constants below (HEAP_HEADER,
 * HEAP_BLOCK): built from the constants, checked when the module loads, and
 * rendered into docs/shared-state.md (test/sync/layouts.test.ts keeps the two equal).
 */
import { existsSync, readlinkSync } from 'node:fs';
import { isMainThread, threadId as selfThreadId, type Worker } from 'node:worker_threads';
import { ErrorCode, SpindleError, rangeError, typeError } from '../errors.js';
import { fault, faultsOn } from './faults.js';
import { OWNER_TAGS, heldByThisThread, lockOwnedSlow, threadTag, tryLockOwned, unlockOwned } from './owner-lock.js';
import { wordTable } from './word-table.js';
import { inRuntimeWorker } from '../context.js';

/** Options for {@link SharedHeap}. */
export interface HeapOptions {
  /** Bytes reserved up front (rounded up to 8; default 1 MiB). */
  initialBytes?: number;
  /** Hard ceiling the buffer may grow to (default 1 GiB; at most 2 GiB − 8). */
  maxBytes?: number;
}

/** What {@link SharedHeap.stats} reports, all in bytes except `blocks`. */
export interface HeapStats {
  /** Bytes the buffer currently spans (grows, never shrinks). */
  reserved: number;
  /** Bytes held by live blocks, block headers and class rounding included. */
  inUse: number;
  /** `reserved` minus the heap header minus `inUse`: free lists plus the untouched tail. */
  free: number;
  /** Live blocks. */
  blocks: number;
}

const H_MAGIC = 0;
const H_VERSION = 1;
const H_ID = 2;
const H_LOCK = 3;
const H_TOP = 4;
const H_DEAD_COUNT = 8;
const H_USAGE = 10; // Int32 words 10..11: one BigInt64 (i64 index H_USAGE64)
const H_USAGE64 = H_USAGE >> 1;
const USAGE_BLOCK_BITS = 27; // 2^27 blocks of 16 bytes fill 2 GiB
const H_FREE_HEAD = 16;
const NCLASSES = 54;
const H_DEAD_RING = 72;
const DEAD_RING = 64;
const H_THREADS = H_DEAD_RING + DEAD_RING;
/** Threads the table can name at once (live ones, and dead ones not yet declared). */
const THREAD_SLOTS = 128;
/** Words per thread-table entry: threadId + 1 (0 = free), then the OS thread id (0 = unknown). */
const T_ID = 0;
const T_TID = 1;
const THREAD_WORDS = 2;
const HEADER_WORDS = H_THREADS + THREAD_SLOTS * THREAD_WORDS;
const HEADER_BYTES = HEADER_WORDS * 4;

const MAGIC = 0x53504850;
const VERSION = 2;
const LIVE_TAG = 0x0b1c0000;
const FREE_TAG = 0x0f3e0000;
const TAG_MASK = 0x7fff0000;
const CLASS_MASK = 0xffff;
const BLOCK_HEADER = 8;
/** Int32 word offsets of the block header fields from the payload's first word. */
const B_TAG = -2;
const B_GEN = -1;
const MIN_BLOCK = 16;

export const HEAP_HEADER = wordTable({
  title: 'Heap header',
  base: 'The first bytes of the heap buffer (`src/shared/heap.ts`)',
  unit: 'word',
  size: HEADER_WORDS,
  rows: [
    { name: 'H_MAGIC', at: H_MAGIC, words: 1, meaning: "`'SPHP'` (0x53504850)", access: 'creator, once → fromBuffer' },
    { name: 'H_VERSION', at: H_VERSION, words: 1, meaning: `layout version (${VERSION})`, access: 'creator, once → fromBuffer' },
    { name: 'H_ID', at: H_ID, words: 1, meaning: 'random heap id: tells heaps apart across threads', access: 'creator, once → handle checks' },
    { name: 'H_LOCK', at: H_LOCK, words: 1, meaning: 'allocator lock (owner-lock.ts): 0 free, else the holder\'s thread tag | SLEEPERS', access: 'alloc/free ↔ alloc/free; a waiter takes it over from a dead holder' },
    { name: 'H_TOP', at: H_TOP, words: 1, meaning: 'bump pointer, bytes', access: 'alloc under H_LOCK → alloc, stats' },
    { name: '(reserved)', at: H_TOP + 1, words: H_DEAD_COUNT - H_TOP - 1, meaning: '0', access: '—' },
    { name: 'H_DEAD_COUNT', at: H_DEAD_COUNT, words: 1, meaning: 'threads declared dead, in total', access: 'declareThreadDead → lock waiters' },
    { name: '(reserved)', at: H_DEAD_COUNT + 1, words: H_USAGE - H_DEAD_COUNT - 1, meaning: '0', access: '—' },
    { name: 'H_USAGE', at: H_USAGE, words: 2, meaning: `one BigInt64: live bytes × 2^${USAGE_BLOCK_BITS} + live blocks (one atomic add per alloc/free, a consistent pair for stats)`, access: 'alloc/free → stats' },
    { name: '(reserved)', at: H_USAGE + 2, words: H_FREE_HEAD - H_USAGE - 2, meaning: '0', access: '—' },
    { name: 'H_FREE_HEAD', at: H_FREE_HEAD, words: NCLASSES, meaning: "head of each size class's free list (payload offset, 0 = empty)", access: 'under H_LOCK' },
    { name: '(reserved)', at: H_FREE_HEAD + NCLASSES, words: H_DEAD_RING - H_FREE_HEAD - NCLASSES, meaning: '0', access: '—' },
    { name: 'H_DEAD_RING', at: H_DEAD_RING, words: DEAD_RING, meaning: 'the last threads declared dead (threadId + 1; 0 = empty)', access: 'declareThreadDead → lock waiters' },
    {
      name: 'H_THREADS',
      at: H_THREADS,
      words: THREAD_SLOTS * THREAD_WORDS,
      meaning: `thread table: ${THREAD_SLOTS} × (threadId + 1, OS thread id); 0 = free`,
      access: 'a worker attaching (CAS) → lock waiters (is the holder alive?)',
    },
  ],
  note: 'The first block starts right after the header (8-aligned).',
});

export const HEAP_BLOCK = wordTable({
  title: 'Heap block',
  base: 'Around each block; offsets from the payload offset `p` that `alloc` returns (always 8-aligned, never 0)',
  unit: 'word',
  from: B_TAG,
  size: 1,
  rows: [
    { name: 'B_TAG', at: B_TAG, words: 1, meaning: '`LIVE_TAG | class` or `FREE_TAG | class`', access: 'alloc, free (CAS) → free, usableSize, isLive' },
    { name: 'B_GEN', at: B_GEN, words: 1, meaning: 'generation: how many times the block was freed (a handle carries the one it was made with)', access: 'free → every handle access' },
    { name: 'payload', at: 0, words: 1, meaning: "the owner's bytes (class size − 8); while the block is free, its first word links the next free block", access: 'the holder of the offset; free lists under H_LOCK' },
  ],
  note: 'A freed block is reused only by its own size class, so its header words stay where they are: the generation survives reuse.',
});

/** Blocks up to this size go through the per-thread cache; bigger ones straight to the shared lists. */
const CACHE_MAX_BLOCK = 4096;
/** A class's cache flushes half of itself past this many blocks... */
const CACHE_LIMIT = 64;
/** ...and refills this many at a time. */
const CACHE_BATCH = 16;

const DEFAULT_INITIAL = 1 << 20;
const DEFAULT_MAX = 1 << 30;
/** Offsets are stored in Int32 words, so the heap must stay below 2 GiB. */
const LIMIT_MAX = 2 ** 31 - 8;

/** Block size of class `c`: 16, 24, 32, 48, 64, 96, 128, ... */
function classSize(c: number): number {
  return ((c & 1) === 0 ? 16 : 24) << (c >> 1); // < 2^31 for every class
}

/** Smallest class whose block holds `size` bytes (size ≥ 16). */
function classOf(size: number): number {
  if (size <= MIN_BLOCK) return 0;
  const k = 31 - Math.clz32(size - 1); // 2^k < size <= 2^(k+1), k >= 4
  return size <= 3 << (k - 1) ? 2 * (k - 4) + 1 : 2 * (k - 3);
}

/** Per class, what one block adds to H_USAGE64. */
const USAGE_DELTA: bigint[] = Array.from({ length: NCLASSES }, (_, c) => (BigInt(classSize(c)) << BigInt(USAGE_BLOCK_BITS)) | 1n);

type GrowableSAB = SharedArrayBuffer & {
  grow(newLength: number): void;
  readonly growable: boolean;
  readonly maxByteLength: number;
};
const GrowableSharedArrayBuffer = SharedArrayBuffer as unknown as new (
  length: number,
  opts: { maxByteLength: number },
) => GrowableSAB;

function align8(n: number): number {
  return (n + 7) & ~7;
}

/**
 * A growable SharedArrayBuffer plus an allocator usable from every thread at
 * once. Create one per runtime (or standalone), send `heap.buffer` to other
 * threads and attach there with {@link SharedHeap.fromBuffer}.
 */
export class SharedHeap {
  /** The underlying growable buffer; send it to a thread and `fromBuffer` it there. */
  readonly buffer: SharedArrayBuffer;
  /** Random id shared by every thread's view of this heap; tells heaps apart. */
  readonly id: number;
  // Fixed-length views over the first #viewBytes bytes, replaced when the
  // buffer has grown. Not length-tracking on purpose: on Node 20, Atomics on a
  // length-tracking view cost about 4x more (60 vs 15 ns), plain access 10x.
  // A view never goes stale for what it covers: a growable SAB never shrinks.
  #viewBytes = 0;
  /**
   * This thread's cache of free blocks, per class (private: no other thread
   * sees it). free() pushes, alloc() pops: a pair is two tag writes and four
   * counter updates, no lock. Overflow and refill move batches under H_LOCK.
   */
  readonly #cache: Array<number[] | undefined> = [];
  #u8!: Uint8Array;
  #i32!: Int32Array;
  #u32!: Uint32Array;
  #f64!: Float64Array;
  #i64!: BigInt64Array;
  #dv!: DataView;
  /** Set by fromBuffer for the duration of one construction. */
  static #attaching: SharedArrayBuffer | undefined;

  /** Creates a new heap backed by a fresh growable SharedArrayBuffer. */
  constructor(opts: HeapOptions = {}) {
    const buffer = SharedHeap.#attaching ?? SharedHeap.#create(opts);
    SharedHeap.#attaching = undefined;
    this.buffer = buffer;
    this.#refresh();
    if (!isMainThread) heapsToTrimOnExit.add(new WeakRef(this));
    this.id = Atomics.load(this.#i32, H_ID);
    // The main thread never dies alone (its death ends the process), so only workers register.
    if (!isMainThread) this.#registerThread();
  }

  #refresh(): void {
    const n = this.buffer.byteLength;
    this.#viewBytes = n;
    this.#u8 = new Uint8Array(this.buffer, 0, n);
    this.#i32 = new Int32Array(this.buffer, 0, n >> 2);
    this.#u32 = new Uint32Array(this.buffer, 0, n >> 2);
    this.#f64 = new Float64Array(this.buffer, 0, n >> 3);
    this.#i64 = new BigInt64Array(this.buffer, 0, n >> 3);
    this.#dv = new DataView(this.buffer, 0, n);
  }

  // The view getters cover every block allocated (by any thread) before the
  // call. Keep the view a getter returned for as long as you only touch blocks
  // that already existed then; fetch again after an alloc.

  /** Int32 view covering at least `end` bytes: no length check when the cached view already does (hot paths). */
  i32For(end: number): Int32Array {
    if (end > this.#viewBytes) this.#refresh();
    return this.#i32;
  }
  /** Byte view covering at least `end` bytes (see {@link i32For}). */
  u8For(end: number): Uint8Array {
    if (end > this.#viewBytes) this.#refresh();
    return this.#u8;
  }

  /** DataView covering at least `end` bytes (see {@link i32For}). */
  dvFor(end: number): DataView {
    if (end > this.#viewBytes) this.#refresh();
    return this.#dv;
  }

  /** Byte view of the heap (covers every block allocated before the call). */
  get u8(): Uint8Array {
    if (this.buffer.byteLength !== this.#viewBytes) this.#refresh();
    return this.#u8;
  }
  /** Int32 view for Atomics; index = byteOffset >> 2. */
  get i32(): Int32Array {
    if (this.buffer.byteLength !== this.#viewBytes) this.#refresh();
    return this.#i32;
  }
  /** Uint32 view; index = byteOffset >> 2. */
  get u32(): Uint32Array {
    if (this.buffer.byteLength !== this.#viewBytes) this.#refresh();
    return this.#u32;
  }
  /** Float64 view; index = byteOffset >> 3. */
  get f64(): Float64Array {
    if (this.buffer.byteLength !== this.#viewBytes) this.#refresh();
    return this.#f64;
  }
  /** BigInt64 view for Atomics; index = byteOffset >> 3. */
  get i64(): BigInt64Array {
    if (this.buffer.byteLength !== this.#viewBytes) this.#refresh();
    return this.#i64;
  }

  static #create(opts: HeapOptions): SharedArrayBuffer {
    const max = opts.maxBytes ?? DEFAULT_MAX;
    if (!Number.isInteger(max) || max < HEADER_BYTES + MIN_BLOCK || max > LIMIT_MAX) {
      throw rangeError(`spindle: SharedHeap maxBytes must be an integer between ${HEADER_BYTES + MIN_BLOCK} and ${LIMIT_MAX} (got ${max})`);
    }
    if (opts.initialBytes !== undefined && (!Number.isInteger(opts.initialBytes) || opts.initialBytes < 0)) {
      throw rangeError(`spindle: SharedHeap initialBytes must be a non-negative integer (got ${opts.initialBytes})`);
    }
    const initial = Math.min(max, Math.max(HEADER_BYTES + MIN_BLOCK, align8(opts.initialBytes ?? DEFAULT_INITIAL)));
    const buffer = new GrowableSharedArrayBuffer(initial, { maxByteLength: max });
    const i32 = new Int32Array(buffer);
    // safety: no other thread can see the buffer before the constructor returns.
    Atomics.store(i32, H_VERSION, VERSION);
    Atomics.store(i32, H_ID, (Math.random() * 0x7fffffff) | 1);
    Atomics.store(i32, H_TOP, HEADER_BYTES);
    Atomics.store(i32, H_MAGIC, MAGIC);
    return buffer;
  }

  /**
   * Attaches to a heap created in another thread (its `buffer` arrived by
   * `workerData` or `postMessage`). Allocations from either side are seen by both.
   */
  static fromBuffer(buffer: SharedArrayBuffer): SharedHeap {
    if (!(buffer instanceof SharedArrayBuffer) || !(buffer as GrowableSAB).growable || buffer.byteLength < HEADER_BYTES) {
      throw typeError('spindle: SharedHeap.fromBuffer needs the growable SharedArrayBuffer of a SharedHeap (heap.buffer)');
    }
    const i32 = new Int32Array(buffer);
    if (Atomics.load(i32, H_MAGIC) !== MAGIC || Atomics.load(i32, H_VERSION) !== VERSION) {
      throw typeError(
        `spindle: this SharedArrayBuffer is not a spindle SharedHeap of this version (bad magic, or a layout version other than ${VERSION})`,
      );
    }
    SharedHeap.#attaching = buffer;
    return new SharedHeap();
  }

  /** Configured maximum size in bytes. */
  get maxBytes(): number {
    return (this.buffer as GrowableSAB).maxByteLength;
  }

  /**
   * Zeroes `bytes` at `off`, a block this thread has just allocated (8-aligned) and not yet
   * published: plain stores, which the store that later publishes the block (a handle's message,
   * a task) orders before any other thread's first look. Word stores, the tail byte by byte:
   * `fill` on a range is a runtime call, several times the cost for the few dozen bytes of a
   * channel, an end or a shared object (96 bytes: 85 → 32 ns).
   */
  zeroFresh(off: number, bytes: number): void {
    const end = off + bytes;
    const i32 = this.i32For(end);
    for (let w = off >> 2, last = end >> 2; w < last; w++) i32[w] = 0;
    const u8 = this.#u8;
    for (let at = end & ~3; at < end; at++) u8[at] = 0;
  }

  /**
   * Allocates a block of at least `bytes` bytes and returns its byte offset
   * (8-aligned, never 0). Contents are not zeroed. Thread-safe.
   * @throws RangeError past `maxBytes`.
   */
  alloc(bytes: number): number {
    if (!Number.isInteger(bytes) || bytes < 0) {
      throw typeError(`spindle: heap.alloc(bytes) needs a non-negative integer (got ${String(bytes)})`);
    }
    const cls = classOf(Math.max(MIN_BLOCK, align8(bytes) + BLOCK_HEADER));
    const cache = this.#cache[cls];
    let p = cache !== undefined && cache.length > 0 ? cache.pop()! : this.#allocShared(cls, bytes);
    let i32 = this.#i32;
    if (p >= this.#viewBytes) i32 = this.#refreshed();
    // safety: the block is ours alone (popped from our private cache or from a
    // shared list under H_LOCK); the tag is published for other threads' free().
    Atomics.store(i32, (p >> 2) + B_TAG, LIVE_TAG | cls);
    Atomics.add(this.#i64, H_USAGE64, USAGE_DELTA[cls]!);
    return p;
  }

  /** Takes a block of class `cls` from the shared list (refilling this thread's cache) or the tail. */
  #allocShared(cls: number, bytes: number): number {
    const size = classSize(cls);
    let i32 = this.#i32;
    this.#lock();
    let p = Atomics.load(i32, H_FREE_HEAD + cls);
    if (p !== 0) {
      const cache = size <= CACHE_MAX_BLOCK ? (this.#cache[cls] ??= []) : undefined;
      // Take a batch: one lock round trip then serves CACHE_BATCH allocations.
      for (let n = 0; ; n++) {
        // The block may lie past our view if another thread grew the heap.
        if (p >= this.#viewBytes) i32 = this.#refreshed();
        // safety: a block on a shared free list is touched only under H_LOCK, which we hold.
        const next = Atomics.load(i32, p >> 2);
        Atomics.store(i32, H_FREE_HEAD + cls, next);
        if (faultsOn) fault('mid-heap-lock');
        if (cache === undefined || next === 0 || n === CACHE_BATCH) break;
        cache.push(p);
        p = next;
      }
    } else {
      const top = Atomics.load(i32, H_TOP);
      if (top + size > this.buffer.byteLength && !this.#grow(top + size)) {
        unlockOwned(i32, H_LOCK);
        throw this.#exhausted(bytes, size);
      }
      Atomics.store(i32, H_TOP, top + size);
      p = top + BLOCK_HEADER;
    }
    unlockOwned(i32, H_LOCK);
    return p;
  }

  /** Takes the allocator lock (H_LOCK; "the allocator lock" below). */
  #lock(): void {
    const i32 = this.#i32;
    if (!tryLockOwned(i32, H_LOCK)) lockOwnedSlow(i32, H_LOCK, LOCK_SPINS, LOCK_POLL_MS, (tag) => this.isTagDead(tag));
  }

  #refreshed(): Int32Array {
    this.#refresh();
    return this.#i32;
  }

  /** Grows the buffer so at least `needed` bytes exist; false when past the maximum. Call under H_LOCK. */
  #grow(needed: number): boolean {
    const buf = this.buffer as GrowableSAB;
    const max = buf.maxByteLength;
    if (needed > max) return false;
    // safety: only alloc grows, and only under H_LOCK, so byteLength cannot
    // move under us and grow() never sees a smaller length than the current one.
    buf.grow(Math.min(max, Math.max(needed, buf.byteLength * 2)));
    return true;
  }

  #exhausted(bytes: number, size: number): RangeError {
    const s = this.stats();
    return rangeError(
      `spindle: shared heap exhausted: alloc(${bytes}) needs a ${size}-byte block, but the heap is at ` +
        `${s.reserved} of its maxBytes ${this.maxBytes} bytes (${s.inUse} in use in ${s.blocks} blocks). ` +
        `Raise the limit with new SharedHeap({ maxBytes }) (or the runtime's heap option), or free blocks you no longer need.`,
      ErrorCode.HEAP_EXHAUSTED,
    );
  }

  /** Checks `offset` names a block start of this heap and returns its tag word index. */
  #tagIndex(offset: number, op: string): number {
    if (offset >= this.#viewBytes && Number.isInteger(offset)) this.#refresh();
    // Past H_TOP the buffer is zeros, so the tag check that follows rejects it.
    if (!Number.isInteger(offset) || (offset & 7) !== 0 || offset < HEADER_BYTES + BLOCK_HEADER || offset >= this.#viewBytes) {
      throw new SpindleError(ErrorCode.INVALID_FREE, `spindle: heap.${op}(${String(offset)}): not an offset returned by alloc on this heap`);
    }
    return (offset >> 2) + B_TAG;
  }

  /**
   * Returns the block at `offset` to its free list. Thread-safe.
   * @throws Error on a double free or an offset alloc never returned (nothing is changed).
   */
  free(offset: number): void {
    const t = this.#tagIndex(offset, 'free');
    const i32 = this.#i32;
    const tag = Atomics.load(i32, t);
    // safety: the CAS from the exact live tag makes free() linearizable: of two
    // racing frees of one block, exactly one wins and the other reports a double free.
    if ((tag & TAG_MASK) !== LIVE_TAG || Atomics.compareExchange(i32, t, tag, FREE_TAG | (tag & CLASS_MASK)) !== tag) {
      const now = Atomics.load(i32, t) & TAG_MASK;
      throw new SpindleError(
        ErrorCode.INVALID_FREE,
        now === FREE_TAG
          ? `spindle: heap.free(${offset}): double free (the block is already free); a block must be freed exactly once — use Arc to share ownership`
          : `spindle: heap.free(${offset}): not the start of a block (bad header); pass exactly the offset alloc returned`,
      );
    }
    // A new generation: every handle made for the block's old contents is stale
    // from here on. safety: the CAS above made the block ours alone, so a plain
    // read-modify-write is enough (and costs nothing next to an atomic add);
    // it is published with the block itself: to this thread's next alloc by
    // program order, to other threads by the free-list lock it passes through.
    const g = t - B_TAG + B_GEN;
    i32[g] = (i32[g]! + 1) | 0;
    const cls = tag & CLASS_MASK;
    const size = classSize(cls);
    Atomics.sub(this.#i64, H_USAGE64, USAGE_DELTA[cls]!);
    if (size <= CACHE_MAX_BLOCK) {
      const cache = (this.#cache[cls] ??= []);
      cache.push(offset);
      if (cache.length > CACHE_LIMIT) this.#flush(cls, CACHE_LIMIT >> 1);
    } else {
      this.#pushShared(cls, [offset]);
    }
  }

  /** Moves all but `keep` of this thread's cached blocks of class `cls` to the shared list. */
  #flush(cls: number, keep: number): void {
    const cache = this.#cache[cls];
    if (cache !== undefined && cache.length > keep) this.#pushShared(cls, cache.splice(keep));
  }

  #pushShared(cls: number, blocks: number[]): void {
    let i32 = this.#i32;
    this.#lock();
    for (const p of blocks) {
      if (p >= this.#viewBytes) i32 = this.#refreshed();
      // safety: free blocks are linked only under H_LOCK, which we hold. The store of the head
      // links the block: a holder that dies before it leaks the block, never breaks the list.
      Atomics.store(i32, p >> 2, Atomics.load(i32, H_FREE_HEAD + cls));
      Atomics.store(i32, H_FREE_HEAD + cls, p);
      if (faultsOn) fault('mid-heap-lock');
    }
    unlockOwned(i32, H_LOCK);
  }

  /**
   * Returns every block this thread has cached back to the shared free lists.
   * Worker threads do it on exit by themselves; call it before handing a
   * thread's memory back matters (e.g. before a long idle period).
   */
  trim(): void {
    // An exit from inside the allocator lock (a fault point; a crash): taking it again would never
    // return. The cached blocks are lost with the thread, as on a terminate().
    if (heldByThisThread(this.#i32, H_LOCK)) return;
    for (let c = 0; c < NCLASSES; c++) this.#flush(c, 0);
  }

  /** Bytes usable at `offset` (≥ what was asked for). */
  usableSize(offset: number): number {
    const tag = Atomics.load(this.#i32, this.#tagIndex(offset, 'usableSize'));
    if ((tag & TAG_MASK) !== LIVE_TAG) {
      throw new SpindleError(ErrorCode.INVALID_FREE, `spindle: heap.usableSize(${offset}): the block is not live (freed, or not a block start)`);
    }
    return classSize(tag & CLASS_MASK) - BLOCK_HEADER;
  }

  /** True when `offset` is the start of a live block (a cheap validity check for handles). */
  isLive(offset: number): boolean {
    try {
      return (Atomics.load(this.#i32, this.#tagIndex(offset, 'isLive')) & TAG_MASK) === LIVE_TAG;
    } catch {
      return false;
    }
  }

  /**
   * The generation of the block at `offset`: how many times it has been
   * freed. A handle records it when made and compares on each use (a freed or
   * reused block has moved on). `offset` must be a block start this heap handed out.
   */
  generation(offset: number): number {
    return Atomics.load(this.i32For(offset), (offset >> 2) + B_GEN);
  }

  /** Allocation counters. Each is read atomically; together they are a snapshot only when no one allocates. */
  stats(): HeapStats {
    const reserved = this.buffer.byteLength;
    const usage = Atomics.load(this.#i64, H_USAGE64);
    const inUse = Number(usage >> BigInt(USAGE_BLOCK_BITS));
    const blocks = Number(usage & BigInt(2 ** USAGE_BLOCK_BITS - 1));
    return { reserved, inUse, free: reserved - HEADER_BYTES - inUse, blocks };
  }

  /**
   * Records that thread `threadId` is dead (its `exit` event fired). Locks it
   * held are then recovered — poisoned — by their next waiter instead of
   * blocking forever. A runtime calls this from each worker's `exit` handler;
   * standalone users can call {@link watchWorker}. Remembers the last 64 deaths.
   */
  declareThreadDead(threadId: number): void {
    if (!Number.isInteger(threadId) || threadId <= 0) {
      throw rangeError(`spindle: declareThreadDead needs a worker's threadId (a positive integer; got ${threadId})`);
    }
    if (this.isThreadDead(threadId)) return;
    const n = Atomics.add(this.#i32, H_DEAD_COUNT, 1);
    Atomics.store(this.#i32, H_DEAD_RING + (n % DEAD_RING), threadId + 1);
    // The ring names it now: its thread-table entry can go to a new thread.
    const i32 = this.#i32;
    for (let e = H_THREADS; e < HEADER_WORDS; e += THREAD_WORDS) {
      if (Atomics.load(i32, e + T_ID) === threadId + 1 && Atomics.compareExchange(i32, e + T_ID, threadId + 1, 0) === threadId + 1) {
        Atomics.store(i32, e + T_TID, 0);
      }
    }
  }

  /** Records this worker thread (its threadId and OS thread id) in the thread table, once per heap. */
  #registerThread(): void {
    const i32 = this.#i32;
    const id = selfThreadId + 1;
    const tid = osThreadId();
    for (let e = H_THREADS; e < HEADER_WORDS; e += THREAD_WORDS) if (Atomics.load(i32, e + T_ID) === id) return;
    for (let pass = 0; pass < 2; pass++) {
      for (let e = H_THREADS; e < HEADER_WORDS; e += THREAD_WORDS) {
        if (Atomics.load(i32, e + T_ID) !== 0 || Atomics.compareExchange(i32, e + T_ID, 0, id) !== 0) continue;
        // safety: a reader that sees our id before this store sees tid 0 (unknown): it
        // then takes us for alive, the safe side.
        Atomics.store(i32, e + T_TID, tid);
        return;
      }
      // Full: the entries of threads that are gone (not declared dead yet) are
      // declared dead now — the dead ring goes on naming them — and freed.
      for (let e = H_THREADS; e < HEADER_WORDS; e += THREAD_WORDS) {
        const other = Atomics.load(i32, e + T_ID);
        const otherTid = Atomics.load(i32, e + T_TID);
        if (other !== 0 && otherTid !== 0 && probeAvailable() && !tidAlive(otherTid)) this.declareThreadDead(other - 1);
      }
    }
    // Still full: this thread goes unrecorded; a lock it holds when it dies is
    // then recovered only once the runtime declares it dead (its 'exit' event).
  }

  /**
   * True when the thread whose lock-owner tag is `tag` (see `threadTag`)
   * is known to be dead: it was declared dead, or it is in the thread table
   * and its OS thread is gone (/proc/self/task/<tid>; a thread found gone is
   * declared dead here, for every other waiter). Needs no event loop, so a
   * thread blocked waiting for a lock can call it. False when unknown.
   */
  isTagDead(tag: number): boolean {
    const i32 = this.#i32;
    for (let i = H_DEAD_RING; i < H_DEAD_RING + DEAD_RING; i++) {
      const id = Atomics.load(i32, i);
      if (id !== 0 && threadTag(id - 1) === tag) return true;
    }
    if (!probeAvailable()) return false;
    for (let e = H_THREADS; e < HEADER_WORDS; e += THREAD_WORDS) {
      const id = Atomics.load(i32, e + T_ID);
      if (id === 0 || threadTag(id - 1) !== tag) continue;
      const tid = Atomics.load(i32, e + T_TID);
      // The entry may have been freed and retaken between the two loads: then
      // the tid is the new thread's, which is alive — the safe side again.
      if (tid !== 0 && !tidAlive(tid)) {
        this.declareThreadDead(id - 1);
        return true;
      }
    }
    return false;
  }

  /** True when `threadId` was declared dead by {@link declareThreadDead}. */
  isThreadDead(threadId: number): boolean {
    const tag = threadId + 1;
    for (let i = 0; i < DEAD_RING; i++) {
      if (Atomics.load(this.#i32, H_DEAD_RING + i) === tag) return true;
    }
    return false;
  }

  /** Thread ids declared dead (the last 64). */
  deadThreads(): number[] {
    const out: number[] = [];
    for (let i = 0; i < DEAD_RING; i++) {
      const tag = Atomics.load(this.#i32, H_DEAD_RING + i);
      if (tag !== 0) out.push(tag - 1);
    }
    return out;
  }

  /** Number of deaths ever declared; lock waiters poll it to notice a new one cheaply. */
  deathCount(): number {
    return Atomics.load(this.#i32, H_DEAD_COUNT);
  }
}

// ───────────────────────── the allocator lock ─────────────────────────
//
// H_LOCK guards the free lists and the bump pointer for a few hundred
// nanoseconds. It records its holder, so that a thread that dies holding it
// (a worker terminated, or killed for memory, mid-alloc) does not hang every
// other thread's next allocation forever: a waiter that has slept LOCK_POLL_MS
// asks whether the holder is dead (isTagDead: declared, or gone from
// /proc/self/task) and takes the lock over with one CAS from the word it judged.
// Every change made under the lock is committed by a single store (a list head,
// the bump pointer), so what a dead holder leaves is consistent: at worst the
// blocks it was moving are lost to the heap.
//
// The word and its protocol: owner-lock.ts (shared with the channels' locks).

const LOCK_SPINS = 64;
/** How long a waiter sleeps before it looks whether the holder died. */
const LOCK_POLL_MS = 20;

export { OWNER_TAGS, threadTag };

/** Whether /proc/self/task can tell a live thread from a dead one here (undefined: not looked yet). */
let probe: boolean | undefined;
function probeAvailable(): boolean {
  return (probe ??= existsSync('/proc/self/task'));
}
/** Byte counts up to which copyBytes loops. */
const SHORT_COPY = 256;

/**
 * Copies `n` bytes from `src[from]` to `dst[to]`: a loop for the few bytes a task or a message
 * usually carries (a `set` over a `subarray` makes a view and a runtime call, several times the
 * cost of copying them), `set` past SHORT_COPY.
 */
export function copyBytes(dst: Uint8Array, to: number, src: Uint8Array, from: number, n: number): void {
  if (n > SHORT_COPY) {
    dst.set(src.subarray(from, from + n), to);
    return;
  }
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
}

/**
 * @internal Turns the /proc liveness probe off (tests of the fallback) or
 * back on (where /proc exists).
 */
export function setThreadProbe(on: boolean): void {
  probe = on && existsSync('/proc/self/task');
}
/** True when this platform lets a blocked thread see that another thread died (Linux /proc). */
export function threadProbeAvailable(): boolean {
  return probeAvailable();
}
function osThreadId(): number {
  try {
    // Sync fs calls run on the calling thread, so this names this thread.
    const m = /\/task\/(\d+)$/.exec(readlinkSync('/proc/thread-self'));
    return m === null ? 0 : Number(m[1]);
  } catch {
    return 0;
  }
}
function tidAlive(tid: number): boolean {
  return existsSync(`/proc/self/task/${tid}`);
}

// A worker's cached free blocks would be lost with it: give them back when it
// exits normally (process.exit included; a terminate() skips this, losing at
// most CACHE_LIMIT small blocks per class).
const heapsToTrimOnExit = new Set<WeakRef<SharedHeap>>();
if (!isMainThread) {
  process.once('exit', () => {
    for (const ref of heapsToTrimOnExit) ref.deref()?.trim();
  });
}

// On globalThis, so that two copies of spindle in one thread (a bundle and an
// installed package) share one heap, as they share the task registry.
const HEAP_KEY = Symbol.for('spindle.globalHeap');
type G = { [HEAP_KEY]?: SharedHeap };

/**
 * The process-wide heap that handles crossing a spawn must live in: the heap
 * of the runtimes this thread creates. Created on first use (default options)
 * on the main thread and in any worker you start yourself; in a runtime worker
 * it is the heap the bootstrap installed with {@link setGlobalHeap}.
 *
 * A worker you start gets a heap of its own. To share handles with the main
 * thread, send `globalHeap().buffer` to it and call
 * `setGlobalHeap(SharedHeap.fromBuffer(buffer))` there before creating shared
 * objects.
 */
export function globalHeap(): SharedHeap {
  const g = globalThis as G;
  let heap = g[HEAP_KEY];
  if (heap === undefined) {
    if (inRuntimeWorker()) {
      throw new SpindleError(ErrorCode.WRONG_CONTEXT, 'spindle: no global shared heap in this runtime worker yet: it is installed at bootstrap, before any task runs');
    }
    heap = g[HEAP_KEY] = new SharedHeap();
  }
  return heap;
}

/**
 * Installs `heap` as this thread's global heap (the worker bootstrap calls it
 * with the main thread's heap; the main thread may call it before first use to
 * choose options, a worker of yours to share the main thread's heap). Setting a
 * different heap once one is in use throws.
 *
 * @example
 * ```ts
 * // in a worker you started with workerData: { heap: globalHeap().buffer }
 * setGlobalHeap(SharedHeap.fromBuffer(workerData.heap));
 * ```
 */
export function setGlobalHeap(heap: SharedHeap): void {
  const g = globalThis as G;
  const cur = g[HEAP_KEY];
  if (cur !== undefined && cur.id !== heap.id) {
    throw new SpindleError(
      ErrorCode.HEAP_MISMATCH,
      'spindle: setGlobalHeap: this thread already uses another global heap; handles from the two would not mix. Call it once, before any shared object is created.',
    );
  }
  g[HEAP_KEY] = heap;
}

/**
 * Declares `worker`'s thread dead in `heap` when it exits, so locks it held
 * are recovered (poisoned) instead of blocking their waiters forever. A
 * runtime does this for its own workers; use it for workers you start yourself.
 */
export function watchWorker(worker: Worker, heap: SharedHeap = globalHeap()): void {
  const threadId = worker.threadId; // read now: it is not meaningful after exit
  worker.once('exit', () => heap.declareThreadDead(threadId));
}
