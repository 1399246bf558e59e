/**
 * Arc / Weak: shared ownership of a value in the shared heap, counted across
 * threads — Rust's `Arc<T>`. The last strong drop drops the value (a shared
 * object it owns is freed; a cloneable value's bytes are freed); the block
 * itself goes when the weak count reaches zero too. Layout: ARC_BLOCK below.
 *
 * A task owns the Arcs moved into it: the runtime releases ([RELEASE]) at the
 * task's end each one the task neither dropped nor moved on (codec.ts `ownedArgs`).
 */
import { typeError } from '../errors.js';
import { storedHandle } from '../shared/codec.js';
import { RELEASE, SHARED, dropperFor, registerSharedKind, type Owned, type SharedHandle, type SharedRef } from '../shared/handle.js';
import type { SharedHeap } from '../shared/heap.js';
import { wordTable } from '../shared/word-table.js';
import { ATTACH, allocBlock, attachOf, checkBlock, freeBlock, heapOf, staleError, type Attach, type SharedOptions } from './block.js';
import { HandleStateError } from './errors.js';
import { SLOT_WORDS, slotBytes, slotFree, slotInit, slotRead } from './slot.js';

const KIND = 0;
const STRONG = 1;
const WEAK = 2;
const SLOT = 3;
const WORDS = SLOT + SLOT_WORDS;
const BYTES = WORDS * 4;

export const ARC_BLOCK = wordTable({
  title: 'Arc block',
  base: 'An `Arc`\'s heap block (`src/sync/arc.ts`; its `Weak`s point at the same block), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: "kind tag 'Arc' (block.ts)", access: 'creator → revivers' },
    { name: 'STRONG', at: STRONG, words: 1, meaning: 'strong count', access: 'every holder (add/sub; CAS in upgrade)' },
    { name: 'WEAK', at: WEAK, words: 1, meaning: "weak count + 1 while any strong exists (Rust's scheme: the strongs share one implicit weak)", access: 'every holder (add/sub)' },
    { name: 'SLOT', at: SLOT, words: SLOT_WORDS, meaning: 'value slot (slot.ts), written once before the block is published, freed by the last strong', access: 'creator → every holder' },
  ],
});

const LIVE = 0;
const MOVED = 1;
const DROPPED = 2;

/** Common state of an Arc or Weak handle: which block, and whether this handle still owns its count. */
abstract class Counted implements Owned {
  protected readonly heap: SharedHeap;
  protected readonly off: number;
  protected readonly i32: Int32Array;
  protected state = LIVE;
  /** The block's generation this handle was made for. */
  readonly #gen: number;

  protected constructor(heap: SharedHeap, off: number, generation: number) {
    this.heap = heap;
    this.off = off;
    this.i32 = heap.i32For(off + BYTES);
    this.#gen = generation;
  }

  protected abstract readonly kind: 'Arc' | 'Weak';

  protected live(op: string): void {
    if (this.state === LIVE) {
      // A live handle holds a count, so its block cannot have been freed... unless
      // the counts were broken (a handle used after its thread's copy was dropped).
      if (this.i32[(this.off >> 2) - 1] !== this.#gen) throw staleError(this.kind, op, this.heap.isLive(this.off)); // a plain read: see object.ts live()
      return;
    }
    throw new HandleStateError(
      this.state === MOVED
        ? `spindle: ${this.kind}.${op}: this ${this.kind} was moved (passed to a spawn, which now owns it); call .clone() before passing it if you need to keep using it here`
        : `spindle: ${this.kind}.${op}: this ${this.kind} was already dropped; clone() before dropping if you need another reference`,
    );
  }

  protected word(i: number): number {
    return (this.off >> 2) + i;
  }

  /** Number of strong references in every thread (0 once the value was dropped). */
  strongCount(): number {
    this.live('strongCount()');
    return Atomics.load(this.i32, this.word(STRONG));
  }

  /** Releases this reference; dropping twice throws. */
  abstract drop(): void;

  /** Same as `drop()`, at the end of a `using` block (a no-op if already dropped or moved). */
  [Symbol.dispose](): void {
    if (this.state === LIVE) this.drop();
  }

  /** The end of the task this handle was moved into: drop it unless it was dropped or moved on (called by the runtime). */
  [RELEASE](): void {
    if (this.state === LIVE) this.drop();
  }

  /** The shared-handle protocol: the handle moves to the receiver once the spawn is encoded. */
  [SHARED](): SharedRef {
    this.live('send');
    return {
      kind: this.kind,
      heap: this.heap,
      offset: this.off,
      generation: this.#gen,
      commit: () => {
        this.state = MOVED;
      },
    };
  }

  /** @internal The generation, for handles made from this one. */
  protected get gen(): number {
    return this.#gen;
  }
}

/** Releases one weak count; the last one frees the block. */
function releaseWeak(heap: SharedHeap, i32: Int32Array, off: number): void {
  if (Atomics.sub(i32, (off >> 2) + WEAK, 1) === 1) freeBlock(heap, off, 'Arc');
}

/**
 * A reference-counted pointer to a value in the shared heap. `Arc.new(v)`
 * takes a shared object (Mutex, SharedMap, ...: the Arc then owns it and frees
 * it on the last drop) or any structured-cloneable value (stored once, read
 * with `get()`). Passing an Arc to `spawn` *moves* it: `clone()` first to keep one.
 *
 * ```ts
 * const db = Arc.new(new SharedMap<string, number>());
 * spawn(worker, db.clone()); // the task drops its clone when done
 * db.get().set('k', 1);
 * db.drop();
 * ```
 */
export class Arc<T = unknown> extends Counted implements SharedHandle, Disposable {
  protected readonly kind = 'Arc' as const;
  #value: { v: T } | undefined;

  /** @internal Use Arc.new (or receive one from another thread). */
  constructor(opts: Attach) {
    const at = attachOf(opts);
    // Tokio's Arc::new is a static function here too; `new Arc(value)` would fail on a missing field.
    if (at === undefined) throw typeError('spindle: an Arc is made by Arc.new(value), not new Arc(value)');
    super(at.heap, at.offset, at.generation ?? at.heap.generation(at.offset));
  }

  /** Allocates an Arc holding `value` with a strong count of 1. */
  static new<T>(value: T, opts?: SharedOptions): Arc<T> {
    const heap = heapOf(opts);
    const off = allocBlock(heap, 'Arc', BYTES);
    try {
      slotInit(heap, (off >> 2) + SLOT, value, 0, 'Arc.new(value)');
    } catch (e) {
      freeBlock(heap, off, 'Arc');
      throw e;
    }
    const i32 = heap.i32For(off + BYTES);
    Atomics.store(i32, (off >> 2) + STRONG, 1);
    Atomics.store(i32, (off >> 2) + WEAK, 1);
    return new Arc<T>({ [ATTACH]: { heap, offset: off, generation: heap.generation(off) } });
  }

  /** The value: the shared object itself, or a decoded copy of a cloneable value (cached per handle). */
  get(): T {
    this.live('get()');
    return (this.#value ??= { v: slotRead(this.heap, this.word(SLOT)) as T }).v;
  }

  /** A new strong reference to the same value. */
  clone(): Arc<T> {
    this.live('clone()');
    // safety: we hold a strong count, so the count cannot reach zero under us.
    Atomics.add(this.i32, this.word(STRONG), 1);
    return new Arc<T>({ [ATTACH]: { heap: this.heap, offset: this.off, generation: this.gen } });
  }

  /** Number of Weak references, in every thread. */
  weakCount(): number {
    this.live('weakCount()');
    const w = Atomics.load(this.i32, this.word(WEAK));
    return Atomics.load(this.i32, this.word(STRONG)) > 0 ? w - 1 : w;
  }

  /** A Weak reference: does not keep the value alive; `upgrade()` to use it. */
  downgrade(): Weak<T> {
    this.live('downgrade()');
    Atomics.add(this.i32, this.word(WEAK), 1);
    return new Weak<T>({ [ATTACH]: { heap: this.heap, offset: this.off, generation: this.gen } });
  }

  /** True when both handles point at the same Arc block. */
  static ptrEq(a: Arc<unknown>, b: Arc<unknown>): boolean {
    return a.heap.id === b.heap.id && a.off === b.off;
  }

  /** Releases this strong reference; the last one drops the value. Dropping twice throws. */
  drop(): void {
    this.live('drop()');
    this.state = DROPPED;
    if (Atomics.sub(this.i32, this.word(STRONG), 1) !== 1) return;
    // safety: we took the count to 0, so no other strong handle exists and
    // upgrade() can no longer succeed (it only increments from > 0).
    const { off, len } = slotBytes(this.heap, this.word(SLOT));
    const inner = off !== 0 ? storedHandle(this.heap, off, len) : undefined;
    slotFree(this.heap, this.word(SLOT));
    try {
      // The object the Arc owns goes with it (a stale one — freed by hand — is reported, after the Arc itself is released).
      if (inner !== undefined) dropperFor(inner.kind)?.(this.heap, inner.offset, inner.generation);
    } finally {
      releaseWeak(this.heap, this.i32, this.off);
    }
  }
}

/** A non-owning reference to an {@link Arc}'s value; `upgrade()` gives an Arc while one still exists. */
export class Weak<T = unknown> extends Counted implements SharedHandle, Disposable {
  protected readonly kind = 'Weak' as const;

  /** @internal Use arc.downgrade(). */
  constructor(opts: Attach) {
    const at = attachOf(opts);
    if (at === undefined) throw typeError('spindle: a Weak is made by arc.downgrade(), not new Weak()');
    super(at.heap, at.offset, at.generation ?? at.heap.generation(at.offset));
  }

  /** A strong Arc if the value is still alive, else null. */
  upgrade(): Arc<T> | null {
    this.live('upgrade()');
    for (;;) {
      const s = Atomics.load(this.i32, this.word(STRONG));
      if (s === 0) return null;
      // safety: incrementing only from a non-zero count we just saw means a
      // value being dropped (count 0) is never revived.
      if (Atomics.compareExchange(this.i32, this.word(STRONG), s, s + 1) === s) {
        return new Arc<T>({ [ATTACH]: { heap: this.heap, offset: this.off, generation: this.gen } });
      }
    }
  }

  /** Another Weak reference to the same value. */
  clone(): Weak<T> {
    this.live('clone()');
    Atomics.add(this.i32, this.word(WEAK), 1);
    return new Weak<T>({ [ATTACH]: { heap: this.heap, offset: this.off, generation: this.gen } });
  }

  /** Releases this Weak reference. Dropping twice throws. */
  drop(): void {
    this.live('drop()');
    this.state = DROPPED;
    releaseWeak(this.heap, this.i32, this.off);
  }
}

function revive(heap: SharedHeap, offset: number, generation: number | undefined): { heap: SharedHeap; offset: number; generation: number } {
  return { heap, offset, generation: checkBlock(heap, offset, 'Arc', generation) };
}
registerSharedKind('Arc', (heap, offset, generation) => new Arc({ [ATTACH]: revive(heap, offset, generation) }));
registerSharedKind('Weak', (heap, offset, generation) => new Weak({ [ATTACH]: revive(heap, offset, generation) }));
