/**
 * The sleep protocol: who is searching for work, who is parked, and who to wake.
 *
 * `H_IDLE` packs two counts: `(sleeping << 16) | searching`. Each worker
 * changes only its own contribution (a searcher counts itself in and out; a
 * sleeper likewise), so the word never underflows however wake-ups race.
 * A worker's `W_PARK` word is its futex: 0 running, 1 parked, 2 notified.
 *
 * No lost wake-up (Dekker, under the seq-cst order of `Atomics`):
 * - a producer pushes its task, *then* reads `H_IDLE`;
 * - a parking worker stores `W_PARK = 1`, counts itself as sleeping, *then*
 *   rescans every queue before it waits.
 * Either the producer sees the sleeper (and wakes someone), or the sleeper's
 * rescan sees the task. When the producer sees a searcher and skips the wake,
 * that searcher either finds work (and, if it was the last searcher, wakes one
 * more: `endSearch` returns true) or parks, rescanning first.
 */
import { H_IDLE, W_PARK } from './layout.js';

const SEARCHER = 1;
const SLEEPER = 1 << 16;

export const RUNNING = 0;
export const PARKED = 1;
export const NOTIFIED = 2;

export class Idle {
  private next = 0;

  constructor(
    private readonly ctl: Int32Array,
    private readonly parkWord: (w: number) => number,
    private readonly workers: number,
  ) {}

  searching(): number {
    return Atomics.load(this.ctl, H_IDLE) & 0xffff;
  }

  /** A worker starts looking in other queues. False when enough already are (at most half). */
  tryBeginSearch(): boolean {
    const s = Atomics.load(this.ctl, H_IDLE);
    const active = this.workers - (s >>> 16);
    if (2 * (s & 0xffff) >= active) return false;
    Atomics.add(this.ctl, H_IDLE, SEARCHER);
    return true;
  }

  /** A searcher stops searching. True when it was the last one (the caller then wakes another). */
  endSearch(): boolean {
    return (Atomics.sub(this.ctl, H_IDLE, SEARCHER) & 0xffff) === 1;
  }

  /** Step 1 of parking: announce it. The caller must rescan every queue afterwards. */
  prepareParking(w: number, wasSearching: boolean): void {
    Atomics.store(this.ctl, this.parkWord(w), PARKED);
    // safety: one atomic add moves the worker from searching to sleeping, so no
    // producer sees it as neither (and skips a needed wake-up).
    Atomics.add(this.ctl, H_IDLE, SLEEPER - (wasSearching ? SEARCHER : 0));
  }

  /** Undo or finish parking: the worker is running again and counts itself out of the sleepers. */
  unpark(w: number): void {
    Atomics.store(this.ctl, this.parkWord(w), RUNNING);
    Atomics.sub(this.ctl, H_IDLE, SLEEPER);
  }

  /** Producer side, after publishing work anyone may run: wake one sleeper unless someone searches. */
  notifyOne(): void {
    const s = Atomics.load(this.ctl, H_IDLE);
    if ((s & 0xffff) !== 0 || s >>> 16 === 0) return;
    const n = this.workers;
    const start = this.next++ % n;
    for (let i = 0; i < n; i++) {
      if (this.wake((start + i) % n)) return;
    }
  }

  /** Wakes worker w if it is parked (used for its inbox too). True if it was. */
  wake(w: number): boolean {
    const word = this.parkWord(w);
    // safety: only one waker wins 1 → 2, so one notify per park.
    if (Atomics.load(this.ctl, word) !== PARKED) return false;
    if (Atomics.compareExchange(this.ctl, word, PARKED, NOTIFIED) !== PARKED) return false;
    Atomics.notify(this.ctl, word, 1);
    return true;
  }

  /** Wakes every worker (shutdown). */
  wakeAll(): void {
    for (let w = 0; w < this.workers; w++) {
      Atomics.store(this.ctl, this.parkWord(w), NOTIFIED);
      Atomics.notify(this.ctl, this.parkWord(w));
    }
  }
}

export { W_PARK };
