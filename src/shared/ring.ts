/**
 * Bounded MPMC ring of int32 values in shared memory (Vyukov's bounded queue).
 *
 * Layout at `base` (words): [0] enqueue position, [8] dequeue position (own
 * cache lines), then `capacity` cells of [sequence, value] from word 16.
 *
 * Every ring in the runtime holds slot indices and has capacity ≥ the number of
 * slots, and a slot index sits in at most one ring at a time, so `push` never
 * finds the ring full: that invariant is what lets spawn and completion never
 * block. `push` still reports fullness rather than overwrite, so a broken
 * invariant is an error, not corruption.
 */
const ENQ = 0;
const DEQ = 8;
const CELLS = 16;

export class Ring {
  private readonly mask: number;

  constructor(
    private readonly a: Int32Array,
    private readonly base: number,
    readonly capacity: number,
  ) {
    this.mask = capacity - 1;
  }

  /** Sets every cell's sequence to its index: the empty ring. Call once, before sharing. */
  init(): void {
    for (let i = 0; i < this.capacity; i++) this.a[this.base + CELLS + 2 * i] = i;
  }

  /** Multi-producer push. Returns false only if the ring is full. */
  push(value: number): boolean {
    const a = this.a;
    let pos = Atomics.load(a, this.base + ENQ);
    for (;;) {
      const cell = this.base + CELLS + 2 * (pos & this.mask);
      const seq = Atomics.load(a, cell);
      const dif = (seq - pos) | 0;
      if (dif === 0) {
        // safety: claiming `pos` by CAS makes this producer the only writer of the
        // cell until it bumps the sequence below.
        const seen = Atomics.compareExchange(a, this.base + ENQ, pos, (pos + 1) | 0);
        if (seen === pos) {
          Atomics.store(a, cell + 1, value);
          // safety: the sequence store publishes the value; a consumer reads the
          // value only after seeing seq === pos + 1.
          Atomics.store(a, cell, (pos + 1) | 0);
          return true;
        }
        pos = seen;
      } else if (dif < 0) {
        return false; // full: the cell still holds a value from one lap ago
      } else {
        pos = Atomics.load(a, this.base + ENQ);
      }
    }
  }

  /** Multi-consumer pop. Returns -1 when empty. */
  pop(): number {
    const a = this.a;
    let pos = Atomics.load(a, this.base + DEQ);
    for (;;) {
      const cell = this.base + CELLS + 2 * (pos & this.mask);
      const seq = Atomics.load(a, cell);
      const dif = (seq - ((pos + 1) | 0)) | 0;
      if (dif === 0) {
        // safety: claiming `pos` makes this consumer the only reader of the cell;
        // the value was published before the sequence we just saw.
        const seen = Atomics.compareExchange(a, this.base + DEQ, pos, (pos + 1) | 0);
        if (seen === pos) {
          const value = Atomics.load(a, cell + 1);
          // safety: hands the cell to the producer one lap ahead.
          Atomics.store(a, cell, (pos + this.mask + 1) | 0);
          return value;
        }
        pos = seen;
      } else if (dif < 0) {
        return -1; // empty
      } else {
        pos = Atomics.load(a, this.base + DEQ);
      }
    }
  }

  /** Approximate length: exact when no push or pop is in flight. */
  len(): number {
    const n = (Atomics.load(this.a, this.base + ENQ) - Atomics.load(this.a, this.base + DEQ)) | 0;
    return n < 0 ? 0 : n;
  }
}
