/**
 * The runtime's shared memory as each thread sees it: views on the control
 * buffer (layout.ts), its queues, the sleep protocol, the code table, and the
 * slot table with its lifecycle (slot.ts). No protocol lives here: this is the
 * set of typed views both sides build from the same buffer.
 */
import { CodeTable } from './code.js';
import { Decoder, Encoder, releaseArgs, type SabTable } from './codec.js';
import { DequeOwner, DequeStealer } from './deque.js';
import type { SharedHeap } from './heap.js';
import { Idle } from './idle.js';
import { W_ABORTS, layout, type Layout } from './layout.js';
import { Ring } from './ring.js';
import { Slots, runnerOf } from './slot.js';

export interface CoreConfig {
  slots: number;
  workers: number;
  dequeCapacity: number;
}

export class Core {
  readonly lay: Layout;
  readonly ctl: Int32Array;
  readonly u8: Uint8Array;
  /** Free slot indices (slot.ts: reserve / release). */
  readonly free: Ring;
  /** Tasks anyone may run: the main thread's spawns, overflow, recovery. */
  readonly injector: Ring;
  /** Completions of main-owned tasks. */
  readonly mainRing: Ring;
  /** Completions of tasks owned by worker w. */
  readonly inboxes: Ring[];
  /** The thief's end of every worker's deque (the owner's end: `ownerDeque(w)`, on worker w only). */
  readonly stealers: DequeStealer[];
  readonly idle: Idle;
  readonly codes: CodeTable;
  readonly slots: Slots;
  readonly enc: Encoder;
  readonly dec: Decoder;

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
    const cells = lay.ringCells;
    this.free = new Ring(this.ctl, lay.freeRing, cells, 'free-slot');
    this.injector = new Ring(this.ctl, lay.injector, cells, 'injector');
    this.mainRing = new Ring(this.ctl, lay.mainRing, cells, 'main completion');
    this.inboxes = [];
    this.stealers = [];
    for (let w = 0; w < config.workers; w++) {
      this.inboxes.push(new Ring(this.ctl, lay.inbox(w), cells, `worker ${w} completion`));
      this.stealers.push(new DequeStealer(this.ctl, lay.deque(w), config.dequeCapacity));
    }
    this.idle = new Idle(this.ctl, (w) => lay.worker(w), config.workers);
    this.codes = new CodeTable(this.ctl, lay);
    this.slots = new Slots(this.ctl, this.u8, lay, heap);
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

  /** The owner's end of worker w's deque: only worker w may make one. */
  ownerDeque(w: number): DequeOwner {
    return new DequeOwner(this.ctl, this.lay.deque(w), this.config.dequeCapacity);
  }

  decodeArgs(i: number): unknown[] {
    return this.slots.readPayload(i, (u8, dv, at) => this.dec.decodeArgs(u8, dv, at));
  }

  /**
   * A task that will never run still owns the Arcs moved into it (codec.ts
   * `ownedArgs`): revives its arguments only to drop them. The caller holds the payload.
   */
  dropArgs(i: number): void {
    try {
      releaseArgs(this.decodeArgs(i));
    } catch {
      // Arguments that fail to decode revived no handle to drop.
    }
  }

  decodeValue(i: number): unknown {
    return this.slots.readPayload(i, (u8, dv, at) => this.dec.decodeValue(u8, dv, at));
  }

  /** Copies the encoder's last output into slot i's payload. */
  writeEncoded(i: number): void {
    this.slots.writePayload(i, this.enc.buf, 0, this.enc.pos);
  }

  /**
   * The owner cancels slot task i (slot.ts ABORT flag). Queued: it will never
   * start (its claim cancels it). Running: its runner is told to look at its
   * tasks' ABORT flags (W_ABORTS) and woken, so the task's AbortSignal fires.
   * Returns the runner, or -1.
   */
  requestAbort(i: number): number {
    const runner = runnerOf(this.slots.requestAbort(i));
    if (runner >= 0) {
      Atomics.add(this.ctl, this.lay.worker(runner) + W_ABORTS, 1);
      this.idle.wake(runner);
    }
    return runner;
  }

  /** A word of worker w's block (layout.ts W_*). */
  wword(w: number, word: number): number {
    return this.lay.worker(w) + word;
  }
}
