/**
 * Barrier: `n` tasks wait until all `n` have arrived, then all go on — Tokio's
 * `Barrier`. Exactly one of each generation is told it is the leader. Reusable:
 * the next `n` arrivals form the next generation. Layout: BARRIER_BLOCK below.
 */
import { rangeError } from '../errors.js';
import { lockWord, unlockWord } from '../shared/futex.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortedError, assertMayBlock, blockChange, checkSignal, waitChange, waitOrAbort, type WaitOptions } from './wait.js';

const KIND = 0;
const LOCK = 1;
const N = 2;
const COUNT = 3;
const GEN = 4;
const WORDS = 5;
const BYTES = WORDS * 4;

export const BARRIER_BLOCK = wordTable({
  title: 'Barrier block',
  base: 'A `Barrier`\'s heap block (`src/sync/barrier.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'LOCK', at: LOCK, words: 1, meaning: 'short lock (futex.ts) over COUNT and GEN', access: 'arrivals' },
    { name: 'N', at: N, words: 1, meaning: 'parties per generation', access: 'creator → arrivals' },
    { name: 'COUNT', at: COUNT, words: 1, meaning: 'arrivals in the current generation', access: 'under LOCK' },
    { name: 'GEN', at: GEN, words: 1, meaning: 'generation; bumped by the leader, slept on', access: 'leader → waiters' },
  ],
});

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
        throw rangeError(`spindle: new Barrier(n): n must be a positive integer (got ${n})`);
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

  /** Withdraws an arrival of generation `gen`; false if that generation completed meanwhile. */
  #depart(gen: number): boolean {
    const i32 = this.i32;
    lockWord(i32, this.w(LOCK));
    const still = Atomics.load(i32, this.w(GEN)) === gen;
    if (still) Atomics.sub(i32, this.w(COUNT), 1);
    unlockWord(i32, this.w(LOCK));
    return still;
  }

  /**
   * Waits (without blocking the thread) until `n` tasks have arrived. With
   * `{ signal }`, giving up withdraws this arrival (the generation then needs
   * another one); if the generation completed as the signal fired, the wait
   * resolves normally.
   */
  async wait(opts?: WaitOptions): Promise<BarrierWaitResult> {
    this.live('wait()');
    const signal = checkSignal(opts, 'Barrier.wait()');
    const gen = this.#arrive();
    if (gen < 0) return { isLeader: true };
    while (Atomics.load(this.i32, this.w(GEN)) === gen) {
      const w = waitChange(this.i32, this.w(GEN), gen);
      if (w === undefined) continue;
      if ((signal === undefined ? await w : await waitOrAbort(w, signal)) === 'aborted' && this.#depart(gen)) {
        throw abortedError(signal!, 'Barrier.wait()');
      }
    }
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
