/**
 * How long a thread busy-waits before it sleeps, adapted to whether waiting
 * has been paying off. Used by a worker searching for work (workers/loop.ts)
 * and by the main thread polling for completions (engine.ts).
 *
 * - A wait that caught what it waited for (`hit`): the next one is full length.
 * - A wait that ran out (`miss`): the next one is half as long, down to `min`.
 * - Every `probeEvery`-th wait is full length whatever the current one (a
 *   probe). Without it, two threads whose waits had shrunk could stay in the
 *   short mode for good: a worker parks before the next task, the main
 *   thread's poll misses the parked worker, and neither finds out that the
 *   work comes back to back again.
 *
 * Work that comes back to back keeps both sides hot; work that comes further
 * apart than a wait costs a short wait and a sleep, not a whole window of a
 * core that another thread may need. Thread-local: no shared memory.
 */
export class SpinWindow {
  #len: number;
  #waits = 0;

  /** `max` and `min` in any one unit (the caller's clock's). */
  constructor(
    readonly max: number,
    readonly min: number,
    readonly probeEvery = 8,
  ) {
    this.#len = max;
  }

  /** The length of the next wait. */
  next(): number {
    return ++this.#waits % this.probeEvery === 0 ? this.max : this.#len;
  }

  /** The wait caught what it waited for. */
  hit(): void {
    this.#len = this.max;
  }

  /** The wait ran out. */
  miss(): void {
    this.#len = Math.max(this.min, this.#len / 2);
  }
}
