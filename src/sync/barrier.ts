/**
 * Barrier: `n` tasks wait until all `n` have arrived, then all go on — Tokio's
 * `Barrier`. Exactly one of each generation is told it is the leader. Reusable:
 * the next `n` arrivals form the next generation.
 *
 * Block layout (Int32 index from the block's first word):   writer → reader
 *   +0  kind tag                                              creator → revivers
 *   +1  LOCK   short lock (futex.ts) over +2..+4               arrivals
 *   +2  N      parties per generation                         creator → arrivals
 *   +3  COUNT  arrivals in the current generation             under LOCK
 *   +4  GEN    generation; bumped by the leader, slept on      leader → waiters
 */
import { lockWord, unlockWord } from '../shared/futex.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { assertMayBlock, blockChange, waitChange } from './wait.js';

const LOCK = 1;
const N = 2;
const COUNT = 3;
const GEN = 4;
const BYTES = 20;

/** What {@link Barrier.wait} resolves with. */
export interface BarrierWaitResult {
  /** True for exactly one task of each generation (the last to arrive). */
  readonly isLeader: boolean;
}

/**
 * A reusable rendezvous point for `n` tasks on any threads.
 *
 * ```ts
 * const start = new Barrier(4);
 * const { isLeader } = await start.wait(); // returns once 4 tasks have called it
 * ```
 */
export class Barrier extends SharedObject {
  /** Allocates a Barrier for `n` parties (n ≥ 1). */
  constructor(n: number, opts?: SharedOptions);
  constructor(n: number, opts?: SharedOptions | Attach) {
    super('Barrier', BYTES, opts, (heap, off) => {
      if (!Number.isInteger(n) || n < 1 || n > 2 ** 31 - 1) {
        throw new RangeError(`spindle: new Barrier(n): n must be a positive integer (got ${n})`);
      }
      Atomics.store(heap.i32For(off + BYTES), (off >> 2) + N, n);
    });
  }

  /** Arrives; returns the generation to wait for, or -1 when this arrival completed it (leader). */
  #arrive(): number {
    const i32 = this.i32;
    lockWord(i32, this.w(LOCK));
    const count = Atomics.load(i32, this.w(COUNT)) + 1;
    const gen = Atomics.load(i32, this.w(GEN));
    const leader = count === Atomics.load(i32, this.w(N));
    Atomics.store(i32, this.w(COUNT), leader ? 0 : count);
    if (leader) Atomics.add(i32, this.w(GEN), 1);
    unlockWord(i32, this.w(LOCK));
    if (!leader) return gen;
    Atomics.notify(i32, this.w(GEN));
    return -1;
  }

  /** Waits (without blocking the thread) until `n` tasks have arrived. */
  async wait(): Promise<BarrierWaitResult> {
    this.live('wait()');
    const gen = this.#arrive();
    if (gen < 0) return { isLeader: true };
    while (Atomics.load(this.i32, this.w(GEN)) === gen) await waitChange(this.i32, this.w(GEN), gen);
    return { isLeader: false };
  }

  /** Blocks until `n` tasks have arrived. Worker threads only. */
  waitSync(): BarrierWaitResult {
    this.live('waitSync()');
    assertMayBlock('Barrier.waitSync()');
    const gen = this.#arrive();
    if (gen < 0) return { isLeader: true };
    while (Atomics.load(this.i32, this.w(GEN)) === gen) blockChange(this.i32, this.w(GEN), gen);
    return { isLeader: false };
  }
}

registerObjectKind('Barrier', (at) => new Barrier(1, at as never));
