/**
 * The sleep protocol: who is searching for work, who is parked, and whom to
 * wake (after tokio's `multi_thread/idle.rs` and rayon-core's `sleep/`).
 *
 * ## State
 * - `H_IDLE` packs two counts: `(sleeping << 16) | searching`.
 * - `W_PARK[w]`, worker w's futex: RUNNING 0, PARKED 1, NOTIFIED 2.
 * - `W_ROLE[w]`: what worker w adds to `H_IDLE` now (none, searching,
 *   sleeping), so that a dead worker's share can be taken back (`forget`).
 *   Each role store sits right after the `H_IDLE` RMW it mirrors, with no call
 *   in between: a worker is terminated only at a function entry or a loop
 *   back-edge, so the pair is atomic from the recoverer's view.
 *
 * ## Posting work (`newWork`)
 * A producer first makes its work visible (a queue push, seq-cst), *then*
 * reads `H_IDLE`: if someone is searching, that searcher will find it; else,
 * if someone sleeps, it wakes one sleeper (PARKED → NOTIFIED by CAS, so one
 * notify per park).
 *
 * ## Searching (`startSearch`, `workFound`)
 * At most half the active workers search at once (the rest would only fight
 * over the same queues). A searcher that finds work calls `workFound`, which
 * takes it out of the searchers; if it was the last one, and work beyond what
 * it took is still visible in the shared queues, it wakes one more worker
 * (the work may be the first of many). Looking *after* leaving the searchers is
 * what keeps this safe: a producer that skipped its wake-up because it saw
 * this searcher pushed before that, so the look sees its work (Dekker, as
 * below). A stream of single tasks thus wakes nobody: each is found by the
 * one searcher, instead of costing a park and a futex wake-up per task.
 *
 * A worker about to hand an outcome to the main thread, with nothing else to
 * run and a parked worker that a `newWork` would wake, calls `startSearch`
 * *before* the hand-off (workers/loop.ts,
 * `beforeHandOff`): the main thread's answer to that outcome — often the next
 * task of a loop of `await spawn()` — then finds a searcher and wakes nobody.
 * Such a worker searches in its next turn, and leaves the searchers through
 * `workFound` (with the same look at the queues) if it runs anything first.
 *
 * ## Falling asleep (`noWorkFound`, then the caller's rescan, then `sleep`)
 * A worker stores PARKED, moves itself from searching to sleeping in one RMW,
 * *then* rescans every queue; it waits on its futex only if the rescan finds
 * nothing.
 *
 * ## Why no wake-up is lost
 * Dekker, under the seq-cst order of `Atomics`: the producer's push precedes
 * its read of `H_IDLE`; the sleeper's count in `H_IDLE` precedes its rescan.
 * Either the producer sees the sleeper (and wakes someone), or the sleeper's
 * rescan sees the work. A producer that skips the wake because someone
 * searches relies on that searcher, which either finds the work or becomes a
 * sleeper that rescans first.
 */
import { H_IDLE, W_PARK, W_ROLE } from './layout.js';

const SEARCHER = 1;
const SLEEPER = 1 << 16;

export const RUNNING = 0;
export const PARKED = 1;
export const NOTIFIED = 2;

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

  /** True when some worker is parked: the one `newWork` would wake. */
  anyoneSleeping(): boolean {
    return Atomics.load(this.ctl, H_IDLE) >>> 16 !== 0;
  }

  /** True when some worker searches or sleeps: a busy worker should make its private work stealable. */
  anyoneHungry(): boolean {
    return Atomics.load(this.ctl, H_IDLE) !== 0;
  }

  /** Worker w wants to look in other queues. False when enough workers already are (at most half of the active). */
  startSearch(w: number): boolean {
    const s = Atomics.load(this.ctl, H_IDLE);
    const active = this.workers - (s >>> 16);
    if (2 * (s & 0xffff) >= active) return false;
    Atomics.add(this.ctl, H_IDLE, SEARCHER);
    Atomics.store(this.ctl, this.workerBase(w) + W_ROLE, ROLE_SEARCHING); // safety: adjacent to its RMW (see header)
    return true;
  }

  /**
   * Searching worker w found work: it leaves the searchers. Returns true if it
   * was the last one: the caller must then look at the shared queues and call
   * `newWork` if more work than what it took is there (see the header).
   */
  workFound(w: number): boolean {
    const last = (Atomics.sub(this.ctl, H_IDLE, SEARCHER) & 0xffff) === 1;
    Atomics.store(this.ctl, this.workerBase(w) + W_ROLE, ROLE_NONE); // safety: adjacent to its RMW
    return last;
  }

  /**
   * Worker w found no work: it counts itself as sleeping. The caller must now
   * rescan every queue, then `sleep` or, if it found work, `unparked`.
   */
  noWorkFound(w: number, wasSearching: boolean): void {
    Atomics.store(this.ctl, this.workerBase(w) + W_PARK, PARKED);
    // safety: one RMW moves the worker from searching to sleeping, so no
    // producer sees it as neither (and skips a needed wake-up).
    Atomics.add(this.ctl, H_IDLE, SLEEPER - (wasSearching ? SEARCHER : 0));
    Atomics.store(this.ctl, this.workerBase(w) + W_ROLE, ROLE_SLEEPING); // safety: adjacent to its RMW
  }

  /** The futex word worker w sleeps on while PARKED (`Atomics.wait` / `waitAsync` on `PARKED`). */
  parkWord(w: number): number {
    return this.workerBase(w) + W_PARK;
  }

  /** Worker w is running again (woken, or its rescan found work): it counts itself out of the sleepers. */
  unparked(w: number): void {
    Atomics.store(this.ctl, this.workerBase(w) + W_PARK, RUNNING);
    Atomics.sub(this.ctl, H_IDLE, SLEEPER);
    Atomics.store(this.ctl, this.workerBase(w) + W_ROLE, ROLE_NONE); // safety: adjacent to its RMW
  }

  /** Takes a dead worker's share out of H_IDLE and resets its futex, so that a replacement starts clean. */
  forget(w: number): void {
    const role = Atomics.exchange(this.ctl, this.workerBase(w) + W_ROLE, ROLE_NONE);
    if (role === ROLE_SEARCHING) Atomics.sub(this.ctl, H_IDLE, SEARCHER);
    else if (role === ROLE_SLEEPING) Atomics.sub(this.ctl, H_IDLE, SLEEPER);
    Atomics.store(this.ctl, this.workerBase(w) + W_PARK, RUNNING);
  }

  /** Producer side, after publishing work anyone may run: wake one sleeper unless someone searches. */
  newWork(): void {
    const s = Atomics.load(this.ctl, H_IDLE);
    if ((s & 0xffff) !== 0 || s >>> 16 === 0) return;
    const n = this.workers;
    const start = this.next++ % n;
    for (let i = 0; i < n; i++) {
      if (this.wake((start + i) % n)) return;
    }
  }

  /** Wakes worker w if it is parked (its inbox, its aborts, its own loaded module). True if it was. */
  wake(w: number): boolean {
    const word = this.workerBase(w) + W_PARK;
    // safety: only one waker wins PARKED → NOTIFIED, so one notify per park.
    if (Atomics.load(this.ctl, word) !== PARKED) return false;
    if (Atomics.compareExchange(this.ctl, word, PARKED, NOTIFIED) !== PARKED) return false;
    Atomics.notify(this.ctl, word, 1);
    return true;
  }

  /** Wakes every worker (shutdown). */
  wakeAll(): void {
    for (let w = 0; w < this.workers; w++) {
      Atomics.store(this.ctl, this.workerBase(w) + W_PARK, NOTIFIED);
      Atomics.notify(this.ctl, this.workerBase(w) + W_PARK);
    }
  }
}
