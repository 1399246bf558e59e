/**
 * The runtime's shared memory as each thread sees it: views on the control
 * buffer, its queues, the code table, and the slot helpers that move a task's
 * payload (arguments, then result) in and out of its slot.
 *
 * Payload bytes are not read or written with `Atomics`: a slot's payload has
 * one writer at a time and is handed over by a seq-cst queue push (spawner →
 * runner, runner → owner), which orders the plain byte copies before the
 * reader's pop. Every slot *word* is accessed with `Atomics`.
 */
import { CodeTable } from './code.js';
import { Decoder, Encoder, type SabTable } from './codec.js';
import { Deque } from './deque.js';
import { SharedHeap } from './heap.js';
import { Idle } from './idle.js';
import {
  INLINE_BYTES,
  SLOT_HEAP,
  SLOT_ID_HI,
  SLOT_ID_LO,
  SLOT_LEN,
  SLOT_STATE,
  W_ABORTS,
  layout,
  type Layout,
} from './layout.js';
import { Ring } from './ring.js';

/** Task states in SLOT_STATE's low byte. */
export const QUEUED = 1;
export const RUNNING = 2;
export const COMPLETE = 3;
export const PANICKED = 4;
export const CANCELLED = 5;
/** Set by the owner's `abort()`; the runner checks it before running. */
export const ABORT = 0x100;
export const STATE_MASK = 0xff;
/** The RUNNING state of worker w, as one word (see layout.ts). */
export const runningBy = (w: number): number => RUNNING | ((w + 1) << 16);
/** The worker a state word says runs the task, or -1. */
export const runnerOf = (state: number): number => ((state & STATE_MASK) === RUNNING ? (state >>> 16) - 1 : -1);

/** The owner code for tasks spawned by the main thread. */
export const MAIN = -1;

export interface CoreConfig {
  slots: number;
  workers: number;
  dequeCapacity: number;
}

export class Core {
  readonly lay: Layout;
  readonly ctl: Int32Array;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly free: Ring;
  readonly injector: Ring;
  readonly mainRing: Ring;
  readonly inboxes: Ring[];
  readonly deques: Deque[];
  readonly idle: Idle;
  readonly codes: CodeTable;
  readonly enc: Encoder;
  readonly dec: Decoder;
  private readonly heapDv: DataView;

  constructor(
    readonly buffer: SharedArrayBuffer,
    readonly heap: SharedHeap,
    readonly config: CoreConfig,
    sabs: SabTable,
    fresh: boolean,
  ) {
    const lay = (this.lay = layout(config.slots, config.workers, config.dequeCapacity));
    this.ctl = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.dv = new DataView(buffer);
    this.heapDv = new DataView(heap.buffer);
    this.free = new Ring(this.ctl, lay.freeRing, config.slots);
    this.injector = new Ring(this.ctl, lay.injector, config.slots);
    this.mainRing = new Ring(this.ctl, lay.mainRing, config.slots);
    this.inboxes = [];
    this.deques = [];
    for (let w = 0; w < config.workers; w++) {
      this.inboxes.push(new Ring(this.ctl, lay.inbox(w), config.slots));
      this.deques.push(new Deque(this.ctl, lay.deque(w), config.dequeCapacity));
    }
    this.idle = new Idle(this.ctl, (w) => lay.worker(w), config.workers);
    this.codes = new CodeTable(this.ctl, lay);
    this.enc = new Encoder(sabs);
    this.dec = new Decoder(sabs);
    if (fresh) {
      for (const r of [this.free, this.injector, this.mainRing, ...this.inboxes]) r.init();
      for (let i = 0; i < config.slots; i++) this.free.push(i);
    }
  }

  static bytes(config: CoreConfig): number {
    return layout(config.slots, config.workers, config.dequeCapacity).totalWords * 4;
  }

  /** Copies `len` bytes of `src` from `at` into slot i's payload (inline, or a heap block). */
  writePayload(i: number, src: Uint8Array, at: number, len: number): void {
    const base = this.lay.slot(i);
    if (len <= INLINE_BYTES) {
      // A loop beats creating a subarray view for the few bytes most tasks carry.
      const dst = this.u8;
      const to = this.lay.inline(i);
      for (let k = 0; k < len; k++) dst[to + k] = src[at + k]!;
      Atomics.store(this.ctl, base + SLOT_HEAP, 0);
    } else {
      const off = this.heap.alloc(len);
      this.heap.u8.set(src.subarray(at, at + len), off);
      Atomics.store(this.ctl, base + SLOT_HEAP, off);
    }
    Atomics.store(this.ctl, base + SLOT_LEN, len);
  }

  /** Copies the encoder's last output into slot i. */
  writeEncoded(i: number): void {
    this.writePayload(i, this.enc.buf, 0, this.enc.pos);
  }

  decodeArgs(i: number): unknown[] {
    const off = Atomics.load(this.ctl, this.lay.slot(i) + SLOT_HEAP);
    return off === 0
      ? this.dec.decodeArgs(this.u8, this.dv, this.lay.inline(i))
      : this.dec.decodeArgs(this.heap.u8, this.heapDv, off);
  }

  decodeValue(i: number): unknown {
    const off = Atomics.load(this.ctl, this.lay.slot(i) + SLOT_HEAP);
    return off === 0
      ? this.dec.decodeValue(this.u8, this.dv, this.lay.inline(i))
      : this.dec.decodeValue(this.heap.u8, this.heapDv, off);
  }

  /** Frees slot i's heap block, if it has one. */
  releasePayload(i: number): void {
    const at = this.lay.slot(i) + SLOT_HEAP;
    const off = Atomics.load(this.ctl, at);
    if (off !== 0) {
      Atomics.store(this.ctl, at, 0);
      this.heap.free(off);
    }
  }

  setId(i: number, id: number): void {
    const base = this.lay.slot(i);
    Atomics.store(this.ctl, base + SLOT_ID_LO, id % 2 ** 32 | 0);
    Atomics.store(this.ctl, base + SLOT_ID_HI, Math.floor(id / 2 ** 32));
  }

  idOf(i: number): number {
    const base = this.lay.slot(i);
    return Atomics.load(this.ctl, base + SLOT_ID_HI) * 2 ** 32 + (Atomics.load(this.ctl, base + SLOT_ID_LO) >>> 0);
  }

  /**
   * The owner cancels slot task i. Queued: it will never start (the runner's
   * QUEUED → RUNNING CAS fails). Running: its worker is told to look at its
   * tasks' ABORT flags (W_ABORTS) and woken, so the task's AbortSignal fires.
   */
  requestAbort(i: number): void {
    const base = this.lay.slot(i);
    const prev = Atomics.or(this.ctl, base + SLOT_STATE, ABORT);
    const runner = runnerOf(prev);
    if (runner < 0) return;
    Atomics.add(this.ctl, this.lay.worker(runner) + W_ABORTS, 1);
    this.idle.wake(runner);
  }

  aborted(i: number): boolean {
    return (Atomics.load(this.ctl, this.lay.slot(i) + SLOT_STATE) & ABORT) !== 0;
  }

  /** Returns slot i to the free ring: its owner has read the outcome. */
  freeSlot(i: number): void {
    this.releasePayload(i);
    // safety: the free ring holds each index at most once; only the owner frees.
    this.free.push(i);
  }
}
