/**
 * Chase–Lev work-stealing deque of int32 values in shared memory, with its two
 * roles as two types (crossbeam-deque's `Worker` / `Stealer`):
 * - `DequeOwner`: the one worker that owns it pushes and pops at the bottom
 *   (LIFO: fork-join runs depth-first and keeps memory bounded);
 * - `DequeStealer`: any other thread takes from the top (FIFO: the oldest,
 *   usually largest, work), and learns whether the deque was empty or it only
 *   lost a race (`STEAL_RETRY`).
 * JavaScript `Atomics` are sequentially consistent, so every index access going
 * through `Atomics` gives the orderings Lê et al. (2013) need without fences.
 *
 * Layout at `base` (words; `dequeWords` in layout.ts):
 * | word | field  | written by                            | read by        |
 * |------|--------|---------------------------------------|----------------|
 * | 0    | top    | thieves (CAS), owner (CAS, last item) | owner, thieves |
 * | 16   | bottom | owner only (which keeps a copy)       | owner, thieves |
 * | 32.. | buffer | owner only (cells in [top, bottom))   | owner, thieves |
 * Indices grow without bound and wrap at 2^32; all comparisons are on their
 * difference, which stays within ±capacity.
 */
const TOP = 0;
const BOTTOM = 16;
const BUF = 32;

/** `steal()` found nothing to take. */
export const STEAL_EMPTY = -1;
/** `steal()` lost a race with another thief or the owner: there may be more, try again. */
export const STEAL_RETRY = -2;

class DequeBase {
  protected readonly mask: number;

  constructor(
    protected readonly a: Int32Array,
    protected readonly base: number,
    readonly capacity: number,
  ) {
    this.mask = capacity - 1;
  }

  /** Approximate length (exact when nobody is pushing, popping or stealing). */
  len(): number {
    const n = (Atomics.load(this.a, this.base + BOTTOM) - Atomics.load(this.a, this.base + TOP)) | 0;
    return n < 0 ? 0 : n;
  }
}

/** The owner's end. Only the worker that owns the deque may hold one. */
export class DequeOwner extends DequeBase {
  /**
   * BOTTOM as this owner last stored it. The owner is BOTTOM's only writer, so
   * the copy is exact and its loads are saved (an `Atomics` call is a builtin
   * call, ~13 ns, even uncontended). Read once here: a replacement worker takes
   * over the deque its dead predecessor left, whose every pop restored BOTTOM.
   */
  #bottom: number;

  constructor(a: Int32Array, base: number, capacity: number) {
    super(a, base, capacity);
    this.#bottom = Atomics.load(a, base + BOTTOM);
  }

  /** Approximate length (exact when no thief is stealing). */
  override len(): number {
    const n = (this.#bottom - Atomics.load(this.a, this.base + TOP)) | 0;
    return n < 0 ? 0 : n;
  }

  /** Pushes at the bottom. Returns false when full: the caller must put the value elsewhere (the injector). */
  push(value: number): boolean {
    const a = this.a;
    const b = this.#bottom;
    const t = Atomics.load(a, this.base + TOP);
    if (((b - t) | 0) >= this.capacity) return false;
    // safety: cell b is outside [top, bottom), so no thief reads it until the
    // bottom store below publishes it.
    Atomics.store(a, this.base + BUF + (b & this.mask), value);
    Atomics.store(a, this.base + BOTTOM, (this.#bottom = (b + 1) | 0));
    return true;
  }

  /** Takes the newest value; -1 when empty. */
  pop(): number {
    const a = this.a;
    const b = (this.#bottom - 1) | 0;
    // safety: lowering bottom first means a thief that reads bottom after this
    // sees the claim; one that read it before must still win the CAS on top.
    Atomics.store(a, this.base + BOTTOM, (this.#bottom = b));
    const t = Atomics.load(a, this.base + TOP);
    const size = (b - t) | 0;
    if (size < 0) {
      Atomics.store(a, this.base + BOTTOM, (this.#bottom = t)); // empty: undo
      return -1;
    }
    const value = Atomics.load(a, this.base + BUF + (b & this.mask));
    if (size > 0) return value; // safety: more than one item, no thief can reach b
    // Last item: race thieves for it through top.
    const won = Atomics.compareExchange(a, this.base + TOP, t, (t + 1) | 0) === t;
    Atomics.store(a, this.base + BOTTOM, (this.#bottom = (t + 1) | 0));
    return won ? value : -1;
  }
}

/** A thief's end: any thread but the owner (other workers; the main thread recovering a dead owner's deque). */
export class DequeStealer extends DequeBase {
  /** Takes the oldest value, or says STEAL_EMPTY / STEAL_RETRY. */
  steal(): number {
    const a = this.a;
    const t = Atomics.load(a, this.base + TOP);
    const b = Atomics.load(a, this.base + BOTTOM);
    if (((b - t) | 0) <= 0) return STEAL_EMPTY;
    const value = Atomics.load(a, this.base + BUF + (t & this.mask));
    // safety: the CAS succeeds only if no thief or owner pop took index t since we
    // read top, and the owner cannot have overwritten cell t while t is still top
    // (push refuses when bottom - top reaches capacity).
    return Atomics.compareExchange(a, this.base + TOP, t, (t + 1) | 0) === t ? value : STEAL_RETRY;
  }
}
