/**
 * Arc / Weak: shared ownership of a value in the shared heap, counted across
 * threads — Rust's `Arc<T>`. The last strong drop drops the value (a shared
 * object it owns is freed; a cloneable value's bytes are freed); the block
 * itself goes when the weak count reaches zero too.
 *
 * Block layout (Int32 index from the block's first word):   writer → reader
 *   +0      kind tag 'Arc' (Weak handles point at the same block)   creator → revivers
 *   +1      STRONG count                                    every holder (Atomics.add/sub, CAS in upgrade)
 *   +2      WEAK count + 1 while any strong exists (Rust's    every holder (Atomics.add/sub)
 *           scheme: the strongs share one implicit weak)
 *   +3..+5  value slot (slot.ts), written once before the   creator → every holder
 *           block is published, freed by the last strong
 */
import { SHARED, dropperFor, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { handleRef } from './value.js';
import type { SharedHeap } from '../shared/heap.js';
import { ATTACH, allocBlock, attachOf, checkBlock, freeBlock, heapOf, type Attach, type SharedOptions } from './block.js';
import { HandleStateError } from './errors.js';
import { SLOT_WORDS, slotBytes, slotFree, slotInit, slotRead } from './slot.js';

const STRONG = 1;
const WEAK = 2;
const SLOT = 3;
const BYTES = (SLOT + SLOT_WORDS) * 4;

const LIVE = 0;
const MOVED = 1;
const DROPPED = 2;

/** Common state of an Arc or Weak handle: which block, and whether this handle still owns its count. */
abstract class Counted {
  protected readonly heap: SharedHeap;
  protected readonly off: number;
  protected readonly i32: Int32Array;
  protected state = LIVE;

  protected constructor(heap: SharedHeap, off: number) {
    this.heap = heap;
    this.off = off;
    this.i32 = heap.i32For(off + BYTES);
  }

  protected abstract readonly kind: 'Arc' | 'Weak';

  protected live(op: string): void {
    if (this.state === LIVE) return;
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

  /** The shared-handle protocol: the handle moves to the receiver once the spawn is encoded. */
  [SHARED](): SharedRef {
    this.live('send');
    return { kind: this.kind, heap: this.heap, offset: this.off, commit: () => { this.state = MOVED; } };
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
    const at = attachOf(opts)!;
    super(at.heap, at.offset);
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
    return new Arc<T>({ [ATTACH]: { heap, offset: off } });
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
    return new Arc<T>({ [ATTACH]: { heap: this.heap, offset: this.off } });
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
    return new Weak<T>({ [ATTACH]: { heap: this.heap, offset: this.off } });
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
    const inner = off !== 0 ? handleRef(this.heap, off, len) : undefined;
    slotFree(this.heap, this.word(SLOT));
    if (inner !== undefined) dropperFor(inner.kind)?.(this.heap, inner.offset);
    releaseWeak(this.heap, this.i32, this.off);
  }
}

/** A non-owning reference to an {@link Arc}'s value; `upgrade()` gives an Arc while one still exists. */
export class Weak<T = unknown> extends Counted implements SharedHandle, Disposable {
  protected readonly kind = 'Weak' as const;

  /** @internal Use arc.downgrade(). */
  constructor(opts: Attach) {
    const at = attachOf(opts)!;
    super(at.heap, at.offset);
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
        return new Arc<T>({ [ATTACH]: { heap: this.heap, offset: this.off } });
      }
    }
  }

  /** Another Weak reference to the same value. */
  clone(): Weak<T> {
    this.live('clone()');
    Atomics.add(this.i32, this.word(WEAK), 1);
    return new Weak<T>({ [ATTACH]: { heap: this.heap, offset: this.off } });
  }

  /** Releases this Weak reference. Dropping twice throws. */
  drop(): void {
    this.live('drop()');
    this.state = DROPPED;
    releaseWeak(this.heap, this.i32, this.off);
  }
}

function revive(heap: SharedHeap, offset: number): { heap: SharedHeap; offset: number } {
  checkBlock(heap, offset, 'Arc');
  return { heap, offset };
}
registerSharedKind('Arc', (heap, offset) => new Arc({ [ATTACH]: revive(heap, offset) }));
registerSharedKind('Weak', (heap, offset) => new Weak({ [ATTACH]: revive(heap, offset) }));
