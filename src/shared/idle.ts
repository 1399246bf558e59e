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
import { H_IDLE, W_PARK, W_ROLE } from './layout.js';

const SEARCHER = 1;
const SLEEPER = 1 << 16;

export const RUNNING = 0;
export const PARKED = 1;
export const NOTIFIED = 2;

/** W_ROLE values: the worker's own record of what it adds to H_IDLE, so a dead worker's share can be taken back. */
export const ROLE_NONE = 0;
export const ROLE_SEARCHING = 1;
export const ROLE_SLEEPING = 2;

export class Idle {
  private next = 0;

  constructor(
    private readonly ctl: Int32Array,
    private readonly workerBase: (w: number) => number,
    private readonly workers: number,
  ) {}

  private parkWord(w: number): number {
    return this.workerBase(w) + W_PARK;
  }

  private role(w: number, r: number): void {
    Atomics.store(this.ctl, this.workerBase(w) + W_ROLE, r);
  }

  searching(): number {
    return Atomics.load(this.ctl, H_IDLE) & 0xffff;
  }

  /** Worker w starts looking in other queues. False when enough already are (at most half). */
  tryBeginSearch(w: number): boolean {
    const s = Atomics.load(this.ctl, H_IDLE);
    const active = this.workers - (s >>> 16);
    if (2 * (s & 0xffff) >= active) return false;
    Atomics.add(this.ctl, H_IDLE, SEARCHER);
    this.role(w, ROLE_SEARCHING);
    return true;
  }

  /** Worker w stops searching. True when it was the last searcher (the caller then wakes another). */
  endSearch(w: number): boolean {
    const last = (Atomics.sub(this.ctl, H_IDLE, SEARCHER) & 0xffff) === 1;
    this.role(w, ROLE_NONE);
    return last;
  }

  /** Step 1 of parking: announce it. The caller must rescan every queue afterwards. */
  prepareParking(w: number, wasSearching: boolean): void {
    Atomics.store(this.ctl, this.parkWord(w), PARKED);
    // safety: one atomic add moves the worker from searching to sleeping, so no
    // producer sees it as neither (and skips a needed wake-up).
    Atomics.add(this.ctl, H_IDLE, SLEEPER - (wasSearching ? SEARCHER : 0));
    this.role(w, ROLE_SLEEPING);
  }

  /** Undo or finish parking: the worker is running again and counts itself out of the sleepers. */
  unpark(w: number): void {
    Atomics.store(this.ctl, this.parkWord(w), RUNNING);
    Atomics.sub(this.ctl, H_IDLE, SLEEPER);
    this.role(w, ROLE_NONE);
  }

  /**
   * Takes a dead worker's share out of H_IDLE and resets its futex, so that a
   * replacement starts clean. (A role and its H_IDLE update are two steps; a
   * worker is only ever terminated between JS statements, and both steps are
   * straight-line code with no call that could be interrupted in between.)
   */
  forget(w: number): void {
    const role = Atomics.exchange(this.ctl, this.workerBase(w) + W_ROLE, ROLE_NONE);
    if (role === ROLE_SEARCHING) Atomics.sub(this.ctl, H_IDLE, SEARCHER);
    else if (role === ROLE_SLEEPING) Atomics.sub(this.ctl, H_IDLE, SLEEPER);
    Atomics.store(this.ctl, this.parkWord(w), RUNNING);
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

