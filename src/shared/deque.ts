/**
 * Chase–Lev work-stealing deque of int32 values in shared memory.
 *
 * The owner pushes and pops at the bottom (LIFO: fork-join runs depth-first and
 * keeps memory bounded); thieves take from the top (FIFO: they get the oldest,
 * usually largest, work). JavaScript `Atomics` are sequentially consistent, so
 * every index access going through `Atomics` gives the orderings Lê et al. (2013)
 * need without explicit fences.
 *
 * Layout at `base` (words):
 * | word | field  | written by                          | read by        |
 * |------|--------|-------------------------------------|----------------|
 * | 0    | top    | thieves (CAS), owner (CAS, last item) | owner, thieves |
 * | 16   | bottom | owner only                          | owner, thieves |
 * | 32.. | buffer | owner only (cells in [top, bottom)) | owner, thieves |
 * Indices grow without bound and wrap at 2^32; all comparisons are on their
 * difference, which stays within ±capacity.
 */
const TOP = 0;
const BOTTOM = 16;
const BUF = 32;

export class Deque {
  private readonly mask: number;

  constructor(
    private readonly a: Int32Array,
    private readonly base: number,
    readonly capacity: number,
  ) {
    this.mask = capacity - 1;
  }

  /** Owner only. Returns false when full (the caller moves half to the injector). */
  push(value: number): boolean {
    const a = this.a;
    const b = Atomics.load(a, this.base + BOTTOM);
    const t = Atomics.load(a, this.base + TOP);
    if (((b - t) | 0) >= this.capacity) return false;
    // safety: cell b is outside [top, bottom), so no thief reads it until the
    // bottom store below publishes it.
    Atomics.store(a, this.base + BUF + (b & this.mask), value);
    Atomics.store(a, this.base + BOTTOM, (b + 1) | 0);
    return true;
  }

  /** Owner only. Takes the newest value; -1 when empty. */
  pop(): number {
    const a = this.a;
    const b = (Atomics.load(a, this.base + BOTTOM) - 1) | 0;
    // safety: lowering bottom first means a thief that reads bottom after this
    // sees the claim; one that read it before must still win the CAS on top.
    Atomics.store(a, this.base + BOTTOM, b);
    const t = Atomics.load(a, this.base + TOP);
    const size = (b - t) | 0;
    if (size < 0) {
      Atomics.store(a, this.base + BOTTOM, t); // empty: undo
      return -1;
    }
    const value = Atomics.load(a, this.base + BUF + (b & this.mask));
    if (size > 0) return value; // safety: more than one item, no thief can reach b
    // Last item: race thieves for it through top.
    const won = Atomics.compareExchange(a, this.base + TOP, t, (t + 1) | 0) === t;
    Atomics.store(a, this.base + BOTTOM, (t + 1) | 0);
    return won ? value : -1;
  }

  /** Any thread but the owner. Takes the oldest value; -1 when empty or lost a race. */
  steal(): number {
    const a = this.a;
    const t = Atomics.load(a, this.base + TOP);
    const b = Atomics.load(a, this.base + BOTTOM);
    if (((b - t) | 0) <= 0) return -1;
    const value = Atomics.load(a, this.base + BUF + (t & this.mask));
    // safety: the CAS succeeds only if no thief or owner pop took index t since we
    // read top, and the owner cannot have overwritten cell t while t is still top
    // (push refuses when bottom - top reaches capacity).
    return Atomics.compareExchange(a, this.base + TOP, t, (t + 1) | 0) === t ? value : -1;
  }

  len(): number {
    const n = (Atomics.load(this.a, this.base + BOTTOM) - Atomics.load(this.a, this.base + TOP)) | 0;
    return n < 0 ? 0 : n;
  }
}
