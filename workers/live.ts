/**
 * Live counting: `H_LIVE` counts the worker-spawned tasks that are not yet
 * done, so that the main thread knows when the runtime is quiet (`run`,
 * `shutdown`). Main-spawned tasks are counted on the main thread.
 *
 * - A published task (in a slot) holds one unit from its publish (`published`,
 *   right after the RESERVED → QUEUED transition) to its owner's take
 *   (`taken`, right after the outcome → TAKEN transition). The slot's state
 *   is the record: a worker-owned slot that is QUEUED, RUNNING or holds an
 *   outcome holds a unit, whoever runs it and whether or not its owner lives.
 * - Private tasks (never published) are counted in this heap, and while that
 *   count is above zero the worker holds one unit for all of them, recorded
 *   in `W_LOCAL_LIVE` (1 while held): two shared RMWs and two stores per busy
 *   period instead of per task (a shared counter bumped per fork-join spawn
 *   bounces its cache line between cores, and every `Atomics` call costs a
 *   builtin call, ~13 ns, even uncontended).
 *
 * Death-safety: each `H_LIVE` RMW sits next to the word that records it (the
 * slot transition, or `W_LOCAL_LIVE`) with no call or loop back-edge between
 * them, so a dying worker leaves both or neither. Recovery takes back the
 * private unit if `W_LOCAL_LIVE` > 0; published units are taken when the
 * tasks' outcomes are (by the replacement worker, from the same inbox).
 */
import { H_LIVE, H_MAIN_WAIT, W_LOCAL_LIVE } from '../src/shared/layout.js';

export class Live {
  private local = 0;
  private readonly word: number;

  constructor(
    private readonly ctl: Int32Array,
    workerBase: number,
  ) {
    this.word = workerBase + W_LOCAL_LIVE;
  }

  /** Private tasks alive in this heap. */
  get privateCount(): number {
    return this.local;
  }

  /** A private task was created. */
  privateUp(): void {
    if (++this.local !== 1) return;
    // safety: the two writes are adjacent (see header): the unit and its record.
    Atomics.add(this.ctl, H_LIVE, 1);
    Atomics.store(this.ctl, this.word, 1);
  }

  /** A private task finished (or was published: `published` was called first, so H_LIVE never dips). */
  privateDown(): void {
    if (--this.local !== 0) return;
    Atomics.store(this.ctl, this.word, 0);
    // safety: adjacent to the store above; whoever takes H_LIVE to zero wakes the main thread.
    if (Atomics.sub(this.ctl, H_LIVE, 1) === 1) wakeMain(this.ctl);
  }
}

/** The main thread may be waiting for completions or for quiet: wake it. */
export function wakeMain(ctl: Int32Array): void {
  if (Atomics.load(ctl, H_MAIN_WAIT) === 1 && Atomics.compareExchange(ctl, H_MAIN_WAIT, 1, 0) === 1) {
    Atomics.notify(ctl, H_MAIN_WAIT);
  }
}
