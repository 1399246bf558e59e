/**
 * Bounded MPMC ring of int32 values in shared memory (Vyukov's bounded queue).
 *
 * Layout at `base` (words): [0] enqueue position, [8] dequeue position (own
 * cache lines), then `capacity` cells of [sequence, value] from word 16
 * (`ringWords` in layout.ts).
 *
 * Every ring in the runtime carries slot indices. A slot index sits in at
 * most one ring at a time, except for the few duplicates that death recovery
 * may leave (every consumer drops a stale index by a CAS on the slot's state,
 * slot.ts), and each ring has twice as many cells as there are slots. So a
 * push never meets a truly full ring, and the one way it could fail
 * spuriously — the cell one lap back is still being read by a pop that has
 * claimed it but not yet released it — is waited out: `push` spins until that
 * pop's release, which is two instructions away (a pop contains no call and no
 * loop back-edge between its claim and its release, so no `terminate()` can
 * stop a thread there). A push that still finds the ring full is a broken
 * invariant: it throws an `InvariantError` (ERR_SPINDLE_INVARIANT), never
 * drops the value. There is no push whose result could be ignored.
 */
import { ErrorCode, SpindleError } from '../errors.js';

const ENQ = 0;
const DEQ = 8;
const CELLS = 16;
/** Spins waiting for an in-flight pop before declaring the ring broken (≈ seconds, never reached in practice). */
const MAX_SPINS = 1 << 28;

/** A queue operation that cannot fail, failed: a bug in spindle, reported instead of a silent drop. */
export class InvariantError extends SpindleError {
  override readonly name = 'InvariantError';
  constructor(message: string) {
    super(ErrorCode.INVARIANT, `spindle: internal invariant broken: ${message}. This is a bug in spindle; please report it.`);
  }
}

export class Ring {
  private readonly mask: number;
  /**
   * The enqueue and dequeue positions as this thread last moved them: the
   * first guess of the next push's and pop's position, which saves a load of
   * the shared word (an `Atomics` call is a builtin call, ~13 ns, even
   * uncontended) whenever this thread was the last to push (pop). The CAS that
   * claims a position validates the guess; a stale one is behind the truth
   * (the shared positions only grow), so its cell shows a later sequence and
   * the word is loaded after all. An empty answer is always checked against
   * the word itself: a guess could be so stale that its difference wraps.
   */
  private enq = 0;
  private deq = 0;

  constructor(
    private readonly a: Int32Array,
    private readonly base: number,
    readonly capacity: number,
    /** Names the ring in invariant errors. */
    readonly name: string,
  ) {
    this.mask = capacity - 1;
  }

  /** Sets every cell's sequence to its index: the empty ring. Call once, before sharing. */
  init(): void {
    for (let i = 0; i < this.capacity; i++) this.a[this.base + CELLS + 2 * i] = i;
  }

  /** Multi-producer push. Never fails: throws InvariantError if the ring is truly full. */
  push(value: number): void {
    const a = this.a;
    let pos = this.enq;
    let spins = 0;
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
          Atomics.store(a, cell, (this.enq = (pos + 1) | 0));
          return;
        }
        pos = seen;
      } else if (dif < 0) {
        // The cell still holds last lap's value. Truly full only if no pop has
        // claimed it; else that pop is between its claim and its release.
        const len = (Atomics.load(a, this.base + ENQ) - Atomics.load(a, this.base + DEQ)) | 0;
        if (len >= this.capacity || ++spins > MAX_SPINS) {
          throw new InvariantError(`the ${this.name} ring is full (${len} of ${this.capacity}) while pushing ${value}`);
        }
        pos = Atomics.load(a, this.base + ENQ);
      } else {
        pos = Atomics.load(a, this.base + ENQ);
      }
    }
  }

  /** Multi-consumer pop. Returns -1 when empty. */
  pop(): number {
    const a = this.a;
    let pos = this.deq;
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
          // safety: hands the cell to the producer one lap ahead (push waits for this store).
          Atomics.store(a, cell, (pos + this.mask + 1) | 0);
          this.deq = (pos + 1) | 0;
          return value;
        }
        pos = seen;
      } else if (dif < 0) {
        // Empty at pos: an answer only if pos is the dequeue position itself.
        const d = Atomics.load(a, this.base + DEQ);
        if (d === pos) return -1;
        pos = d;
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
