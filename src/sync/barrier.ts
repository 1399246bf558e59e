/**
 * Barrier: `n` tasks wait until all `n` have arrived, then all go on — Tokio's
 * `Barrier`. Exactly one of each generation is told it is the leader. Reusable:
 * the next `n` arrivals form the next generation. Layout: BARRIER_BLOCK below.
 *
 * Death-safety: the arrivals and the generation are one 64-bit word, changed
 * only by compareExchange, so a thread that dies in a Barrier call leaves it
 * whole (its arrival counted or not) and holds no lock. The leader bumps WAKE
 * after completing a generation; one that dies in between (fault point
 * `mid-sync-wake`) delays the others by at most a poll period: they read
 * STATE again after each POLL_MS sleep.
 */
import { rangeError } from '../errors.js';
import { fault, faultsOn } from '../shared/faults.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortedError, assertMayBlock, blockChange, checkSignal, waitChange, waitOrAbort, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const N = 1;
const STATE = 2; // words 2-3: one BigInt64 (8-aligned: heap blocks are)
const WAKE = 4;
const WORDS = 5;
const BYTES = WORDS * 4;

/** STATE: arrivals in its low 32 bits, the generation in its high 32 bits. */
const GEN_SHIFT = 32n;

export const BARRIER_BLOCK = wordTable({
  title: 'Barrier block',
  base: 'A `Barrier`\'s heap block (`src/sync/barrier.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'N', at: N, words: 1, meaning: 'parties per generation', access: 'creator → arrivals' },
    {
      name: 'STATE',
      at: STATE,
      words: 2,
      meaning: `one BigInt64, changed only by compareExchange: bits 0–${GEN_SHIFT - 1n} arrivals in the current generation, bits ${GEN_SHIFT}–63 the generation (wraps)`,
      access: 'arrivals (CAS)',
    },
    { name: 'WAKE', at: WAKE, words: 1, meaning: 'bumped by the leader after a generation completes; waiters sleep on it (the futex word)', access: 'leader → waiters' },
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

  get #at(): number {
    return (this.off >> 3) + (STATE >> 1);
  }

  /** The generation STATE is in now (0 … 2^32 - 1: never the leader's -1). */
  #gen(): number {
    return Number(BigInt.asUintN(32, Atomics.load(this.heap.i64, this.#at) >> GEN_SHIFT));
  }

  /** Arrives; returns the generation to wait for, or -1 when this arrival completed it (leader). */
  #arrive(): number {
    const i64 = this.heap.i64;
    const at = this.#at;
    const n = Atomics.load(this.i32, this.w(N));
    for (;;) {
      const word = Atomics.load(i64, at);
      const count = Number(BigInt.asUintN(32, word)) + 1;
      const gen = BigInt.asUintN(32, word >> GEN_SHIFT);
      const leader = count === n;
      const next = BigInt.asIntN(64, leader ? BigInt.asUintN(32, gen + 1n) << GEN_SHIFT : (gen << GEN_SHIFT) | BigInt(count));
      // safety: one CAS from the exact word judged: the arrival counts, and completes its generation, whole or not at all.
      if (Atomics.compareExchange(i64, at, word, next) !== word) continue;
      if (!leader) return Number(gen);
      if (faultsOn) fault('mid-sync-wake');
      Atomics.add(this.i32, this.w(WAKE), 1);
      wake(this.i32, this.w(WAKE));
      return -1;
    }
  }

  /** Withdraws an arrival of generation `gen`; false if that generation completed meanwhile. */
  #depart(gen: number): boolean {
    const i64 = this.heap.i64;
    const at = this.#at;
    for (;;) {
      const word = Atomics.load(i64, at);
      if (Number(BigInt.asUintN(32, word >> GEN_SHIFT)) !== gen) return false;
      // (This arrival is still counted in this generation: the count is at least 1.)
      if (Atomics.compareExchange(i64, at, word, word - 1n) === word) return true;
    }
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
    for (;;) {
      const wake = Atomics.load(this.i32, this.w(WAKE));
      if (this.#gen() !== gen) break;
      const w = waitChange(this.i32, this.w(WAKE), wake);
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
    for (;;) {
      const wake = Atomics.load(this.i32, this.w(WAKE));
      if (this.#gen() !== gen) return { isLeader: false };
      blockChange(this.i32, this.w(WAKE), wake);
    }
  }
}

registerObjectKind('Barrier', (at) => new Barrier(1, at as never));
