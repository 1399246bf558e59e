/**
 * The task-slot lifecycle: one state machine, and the only code that changes
 * a slot's state word (tokio's `runtime/task/state.rs`).
 *
 * ```
 *            reserve            publish           claim(w)             finish(w)
 *   FREE ───────────▶ RESERVED ─────────▶ QUEUED ─────────▶ RUNNING(w) ─────────▶ COMPLETE | PANICKED | CANCELLED
 *    ▲  (spawner pops            (payload,     │ claim: ABORT set             │ failOnDeath (recovery)      │
 *    │   the free ring)           words, then  └──────────────▶ CANCELLED     └──────▶ PANICKED             │ take (owner)
 *    │                            state last)   failQueued (recovery) ──▶ PANICKED                          ▼
 *    └──────────────────────────────────────────── release (owner) ◀──────────────────────────────────── TAKEN
 *                 RESERVED ◀───────────────────────────────────────────── recycle (owner, a task waits) ───┘
 * ```
 * `ABORT` (0x100) is a flag any state may carry; the owner sets it. While
 * RUNNING, bits 16+ hold the runner + 1, so that claiming a task and naming its
 * runner are one CAS: a dead worker's running tasks are found by their state.
 *
 * Every transition is one atomic read-modify-write that succeeds only from the
 * state it expects, and returns what the caller must do next. That is what
 * makes duplicate indices harmless: death recovery may put an index back in a
 * queue that still (or also) holds it; whoever pops the stale copy finds the
 * slot in another state and drops it (`reserve` false, `claim` STALE, `take`
 * -1). Each slot therefore has exactly one holder at a time, and each task is
 * run, delivered and released exactly once.
 *
 * Payload bytes (arguments, then the result) are plain memory handed over by
 * these transitions: written before the state store that publishes them, read
 * after the load or CAS that sees it. Every slot *word* is accessed through
 * `Atomics`.
 */
import { copyBytes, type SharedHeap } from './heap.js';
import {
  INLINE_BYTES,
  SLOT_CODE,
  SLOT_DEATHS,
  SLOT_HEAP,
  SLOT_ID_HI,
  SLOT_ID_LO,
  SLOT_OWNER,
  SLOT_SMALL,
  SLOT_STATE,
  type Layout,
} from './layout.js';
import { rebuildSmallPayload, smallPayloadLength } from './codec.js';
import { InvariantError } from './ring.js';

/** Task states in SLOT_STATE's low byte. */
export const FREE = 0;
export const QUEUED = 1;
export const RUNNING = 2;
export const COMPLETE = 3;
export const PANICKED = 4;
export const CANCELLED = 5;
export const RESERVED = 6;
export const TAKEN = 7;
/** Set by the owner's `abort()`; a claim of an aborted task cancels it, a finish discards its value. */
export const ABORT = 0x100;
export const STATE_MASK = 0xff;

/** The owner code for tasks spawned by the main thread. */
export const MAIN = -1;

export type Outcome = typeof COMPLETE | typeof PANICKED | typeof CANCELLED;

/** What `claim` tells the runner to do. */
export const enum Claim {
  /** The task is ours (RUNNING by us): read its code and payload, run it. */
  Run,
  /** It was aborted while queued and is now CANCELLED: deliver that to its owner. */
  Cancelled,
  /** Not QUEUED: a stale duplicate index. Drop it. */
  Stale,
}

/** Stores `v` at `ctl[at]` unless it already holds it (the holder of a reserved slot is its only writer). */
function setWord(ctl: Int32Array, at: number, v: number): void {
  if (Atomics.load(ctl, at) !== v) Atomics.store(ctl, at, v);
}

const runningBy = (w: number): number => RUNNING | ((w + 1) << 16);
/** The worker a state word says runs the task, or -1. */
export const runnerOf = (state: number): number => ((state & STATE_MASK) === RUNNING ? (state >>> 16) - 1 : -1);
const isOutcome = (s: number): boolean => s === COMPLETE || s === PANICKED || s === CANCELLED;

/** Where readPayload rebuilds a payload kept in SLOT_SMALL (this thread's; decoding an int cannot re-enter). */
const SMALL = new Uint8Array(8);
const SMALL_DV = new DataView(SMALL.buffer);

export class Slots {
  private readonly heapDv: DataView;
  private readonly dv: DataView;

  constructor(
    private readonly ctl: Int32Array,
    private readonly u8: Uint8Array,
    private readonly lay: Layout,
    private readonly heap: SharedHeap,
  ) {
    this.heapDv = new DataView(heap.buffer);
    this.dv = new DataView(u8.buffer);
  }

  private at(i: number): number {
    return this.lay.slot(i) + SLOT_STATE;
  }

  /** The state word (for decisions that a transition then confirms by CAS). */
  load(i: number): number {
    return Atomics.load(this.ctl, this.at(i));
  }

  stateOf(i: number): number {
    return Atomics.load(this.ctl, this.at(i)) & STATE_MASK;
  }

  // ───────────── transitions ─────────────

  /** FREE → RESERVED: the spawner that popped i from the free ring holds it. False: a stale duplicate, drop it. */
  reserve(i: number): boolean {
    return Atomics.compareExchange(this.ctl, this.at(i), FREE, RESERVED) === FREE;
  }

  /**
   * RESERVED → QUEUED, after writing who owns it, its code and id (the payload
   * was written by `writePayload`). The state is the last write: a thread that
   * sees QUEUED sees the rest.
   */
  publish(i: number, owner: number, code: number, id: number): void {
    const ctl = this.ctl;
    const base = this.lay.slot(i);
    // A word that already holds the value (same owner and code as the slot's
    // last task, no deaths, the main thread's ids) is not stored again: a
    // sequentially consistent store is a full fence, a load is not. The claim
    // that follows the CAS below sees the value either way.
    setWord(ctl, base + SLOT_OWNER, owner);
    setWord(ctl, base + SLOT_CODE, code);
    setWord(ctl, base + SLOT_DEATHS, 0);
    Atomics.store(ctl, base + SLOT_ID_LO, id % 2 ** 32 | 0);
    setWord(ctl, base + SLOT_ID_HI, Math.floor(id / 2 ** 32));
    if (Atomics.compareExchange(ctl, base + SLOT_STATE, RESERVED, QUEUED) !== RESERVED) {
      throw new InvariantError(`slot ${i} was published while not reserved (state ${this.load(i)})`);
    }
  }

  /** QUEUED → RUNNING(w), or QUEUED|ABORT → CANCELLED. */
  claim(i: number, w: number): Claim {
    const at = this.at(i);
    for (;;) {
      const st = Atomics.load(this.ctl, at);
      if ((st & STATE_MASK) !== QUEUED) return Claim.Stale;
      const aborted = (st & ABORT) !== 0;
      // safety: one CAS both claims the task and names its runner (or cancels it),
      // so at every instant the state word alone says who is responsible for it.
      if (Atomics.compareExchange(this.ctl, at, st, aborted ? CANCELLED | ABORT : runningBy(w)) === st) {
        return aborted ? Claim.Cancelled : Claim.Run;
      }
    }
  }

  /**
   * RUNNING(w) → the outcome (CANCELLED if the owner aborted it meanwhile: the
   * value is discarded). The result payload, if any, was written before.
   * Returns the outcome stored.
   */
  finish(i: number, w: number, outcome: Outcome): Outcome {
    const at = this.at(i);
    for (;;) {
      const st = Atomics.load(this.ctl, at);
      if (runnerOf(st) !== w) throw new InvariantError(`slot ${i} finished by worker ${w} but its state is ${st}`);
      const out = (st & ABORT) !== 0 ? CANCELLED : outcome;
      if (Atomics.compareExchange(this.ctl, at, st, out | (st & ABORT)) === st) return out;
    }
  }

  /** Recovery: RUNNING(w) → PANICKED, for a task whose worker died under it. False if it was not. */
  failOnDeath(i: number, w: number): boolean {
    const at = this.at(i);
    for (;;) {
      const st = Atomics.load(this.ctl, at);
      if (runnerOf(st) !== w) return false;
      if (Atomics.compareExchange(this.ctl, at, st, PANICKED | (st & ABORT)) === st) return true;
    }
  }

  /** Recovery: QUEUED → PANICKED (its start keeps killing workers) or CANCELLED (aborted). False if not QUEUED. */
  failQueued(i: number): Outcome | -1 {
    const at = this.at(i);
    for (;;) {
      const st = Atomics.load(this.ctl, at);
      if ((st & STATE_MASK) !== QUEUED) return -1;
      const out = (st & ABORT) !== 0 ? CANCELLED : PANICKED;
      if (Atomics.compareExchange(this.ctl, at, st, out | (st & ABORT)) === st) return out;
    }
  }

  /**
   * Owner `owner` takes an outcome: outcome → TAKEN. Returns the outcome, or -1
   * for a stale duplicate (drop it). The owner check matters: a stale index in
   * one owner's ring may name a slot that another owner's task holds now, and
   * only its own owner may take it. (SLOT_OWNER changes only at a publish,
   * which needs the slot FREE, which needs its owner's release.)
   */
  take(i: number, owner: number): Outcome | -1 {
    if (Atomics.load(this.ctl, this.lay.slot(i) + SLOT_OWNER) !== owner) return -1;
    const at = this.at(i);
    for (;;) {
      const st = Atomics.load(this.ctl, at);
      const s = st & STATE_MASK;
      if (!isOutcome(s)) return -1;
      if (Atomics.compareExchange(this.ctl, at, st, TAKEN) === st) return s as Outcome;
    }
  }

  /**
   * TAKEN or RESERVED → FREE, freeing the payload's heap block. The caller then
   * pushes i on the free ring (through its hand-off, on a worker).
   */
  release(i: number): void {
    this.releasePayload(i);
    const st = Atomics.load(this.ctl, this.at(i));
    const s = st & STATE_MASK;
    if ((s !== TAKEN && s !== RESERVED) || Atomics.compareExchange(this.ctl, this.at(i), st, FREE) !== st) {
      throw new InvariantError(`slot ${i} released in state ${st}`);
    }
  }

  /**
   * TAKEN → RESERVED, freeing the payload's heap block: the owner that just
   * took slot i's outcome keeps the slot for its next waiting task, instead
   * of passing it through the free ring (a release, a push, a pop and a
   * reserve: four read-modify-writes on words other threads also touch).
   */
  recycle(i: number): void {
    this.releasePayload(i);
    const st = Atomics.load(this.ctl, this.at(i));
    if ((st & STATE_MASK) !== TAKEN || Atomics.compareExchange(this.ctl, this.at(i), st, RESERVED) !== st) {
      throw new InvariantError(`slot ${i} recycled in state ${st}`);
    }
  }

  /** The owner asks to cancel: sets ABORT. Returns the previous state word (its runner, if running). */
  requestAbort(i: number): number {
    return Atomics.or(this.ctl, this.at(i), ABORT);
  }

  aborted(i: number): boolean {
    return (Atomics.load(this.ctl, this.at(i)) & ABORT) !== 0;
  }

  // ───────────── the other words ─────────────

  ownerOf(i: number): number {
    return Atomics.load(this.ctl, this.lay.slot(i) + SLOT_OWNER);
  }

  /** The code id. Read only after a successful claim (the claim orders it after the publish). */
  codeOf(i: number): number {
    return Atomics.load(this.ctl, this.lay.slot(i) + SLOT_CODE);
  }

  idOf(i: number): number {
    const base = this.lay.slot(i);
    return Atomics.load(this.ctl, base + SLOT_ID_HI) * 2 ** 32 + (Atomics.load(this.ctl, base + SLOT_ID_LO) >>> 0);
  }

  /** Recovery: counts one more worker death while holding this queued task; returns the count. */
  addDeath(i: number): number {
    return Atomics.add(this.ctl, this.lay.slot(i) + SLOT_DEATHS, 1) + 1;
  }

  // ───────────── payload ─────────────

  /**
   * Copies `len` bytes of `src` from `at` into slot i's payload (inline, or a
   * heap block). The slot's holder only; the transition that hands the slot on
   * publishes the payload (the codec is self-delimiting: no length is kept).
   */
  writePayload(i: number, src: Uint8Array, at: number, len: number): void {
    const base = this.lay.slot(i);
    if (smallPayloadLength(src, at, len) !== 0) {
      // One int32 (a tiny task's argument or result): into the header line, which the
      // transition moves to the other thread anyway, not the payload's own line. SLOT_HEAP
      // says so with −len (no block: releasePayload frees only positive offsets).
      const p = at + len - 4;
      Atomics.store(this.ctl, base + SLOT_SMALL, src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24));
      Atomics.store(this.ctl, base + SLOT_HEAP, -len);
      return;
    }
    if (len <= INLINE_BYTES) {
      copyBytes(this.u8, this.lay.inline(i), src, at, len);
      // Nearly always 0 already (releasePayload leaves it so): a load, not a fence.
      setWord(this.ctl, base + SLOT_HEAP, 0);
    } else {
      const off = this.heap.alloc(len);
      this.heap.u8.set(src.subarray(at, at + len), off);
      Atomics.store(this.ctl, base + SLOT_HEAP, off);
    }
  }

  /** Decodes slot i's payload with `read(bytes, view, offset)`. The slot's holder only. */
  readPayload<T>(i: number, read: (u8: Uint8Array, dv: DataView, at: number) => T): T {
    const base = this.lay.slot(i);
    const off = Atomics.load(this.ctl, base + SLOT_HEAP);
    if (off < 0) {
      rebuildSmallPayload(SMALL, -off, Atomics.load(this.ctl, base + SLOT_SMALL));
      return read(SMALL, SMALL_DV, 0);
    }
    return off === 0 ? read(this.u8, this.dv, this.lay.inline(i)) : read(this.heap.u8, this.heapDv, off);
  }

  /** Frees slot i's heap block, if it has one. */
  releasePayload(i: number): void {
    const at = this.lay.slot(i) + SLOT_HEAP;
    // Most payloads are inline (no block): a load, not a read-modify-write, says so.
    // The slot's holder is the only writer of SLOT_HEAP, so nothing changes it in between.
    // ≤ 0: inline, or kept in SLOT_SMALL; either way no block (the next writePayload sets the word).
    if (Atomics.load(this.ctl, at) <= 0) return;
    const off = Atomics.exchange(this.ctl, at, 0);
    if (off > 0) this.heap.free(off);
  }
}
