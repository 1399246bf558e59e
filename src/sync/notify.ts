/**
 * Notify: wake one waiter or all of them — Tokio's `Notify`. `notifyOne()`
 * with nobody waiting stores a single permit that the next `notified()`
 * consumes at once; `notifyWaiters()` wakes everyone waiting now and stores nothing.
 *
 * Block layout (Int32 index from the block's first word):     writer → reader
 *   +0  kind tag                                                creator → revivers
 *   +1  LOCK     short lock (futex.ts) over +2..+5              everyone
 *   +2  PERMIT   1 when a notifyOne found no waiter             under LOCK
 *   +3  WAITERS  registered waiters not yet notified            under LOCK
 *   +4  TOKENS   notifyOne wake-ups not yet claimed             under LOCK
 *   +5  EPOCH    bumped by notifyWaiters; a waiter registered   under LOCK
 *                in an older epoch is woken
 *   +6  GEN      bumped on every notification; waiters sleep    notifiers → waiters
 *                on it (the futex word)
 *
 * Registration happens when `notified()` is called, not when it is awaited:
 * `const n = notify.notified(); ...; await n` cannot miss a notification sent
 * in between.
 */
import { lockWord, unlockWord } from '../shared/futex.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { assertMayBlock, blockChange, waitChange } from './wait.js';

const LOCK = 1;
const PERMIT = 2;
const WAITERS = 3;
const TOKENS = 4;
const EPOCH = 5;
const GEN = 6;
const BYTES = 28;

/**
 * A wake-up signal between tasks on any threads.
 *
 * ```ts
 * const ready = new Notify();
 * // consumer                      // producer
 * await ready.notified();          ready.notifyOne();
 * ```
 */
export class Notify extends SharedObject {
  /** Allocates a Notify with no stored permit. */
  constructor(opts?: SharedOptions);
  constructor(opts?: SharedOptions | Attach) {
    super('Notify', BYTES, opts);
  }

  #get(i: number): number {
    return Atomics.load(this.i32, this.w(i));
  }
  #set(i: number, v: number): void {
    Atomics.store(this.i32, this.w(i), v);
  }

  /** Consumes the stored permit, or registers as a waiter; returns the epoch registered in (-1: permit taken). */
  #register(): number {
    lockWord(this.i32, this.w(LOCK));
    let epoch = -1;
    if (this.#get(PERMIT) === 1) {
      this.#set(PERMIT, 0);
    } else {
      this.#set(WAITERS, this.#get(WAITERS) + 1);
      epoch = this.#get(EPOCH);
    }
    unlockWord(this.i32, this.w(LOCK));
    return epoch;
  }

  /** True when a registered waiter (of `epoch`) has been notified; claims a notifyOne token if there is one. */
  #woken(epoch: number): boolean {
    lockWord(this.i32, this.w(LOCK));
    let woken = this.#get(EPOCH) !== epoch;
    if (!woken && this.#get(TOKENS) > 0) {
      this.#set(TOKENS, this.#get(TOKENS) - 1);
      woken = true;
    }
    unlockWord(this.i32, this.w(LOCK));
    return woken;
  }

  /** Resolves at the next notification (or at once, consuming a stored permit). */
  notified(): Promise<void> {
    this.live('notified()');
    const epoch = this.#register();
    if (epoch < 0) return Promise.resolve();
    return (async () => {
      for (;;) {
        const gen = this.#get(GEN);
        if (this.#woken(epoch)) return;
        await waitChange(this.i32, this.w(GEN), gen);
      }
    })();
  }

  /** Blocks until the next notification. Worker threads only. */
  notifiedSync(): void {
    this.live('notifiedSync()');
    assertMayBlock('Notify.notifiedSync()');
    const epoch = this.#register();
    if (epoch < 0) return;
    for (;;) {
      const gen = this.#get(GEN);
      if (this.#woken(epoch)) return;
      blockChange(this.i32, this.w(GEN), gen);
    }
  }

  /** Wakes one waiter; with none waiting, stores a permit (at most one) for the next `notified()`. */
  notifyOne(): void {
    this.live('notifyOne()');
    lockWord(this.i32, this.w(LOCK));
    const waiters = this.#get(WAITERS);
    if (waiters > 0) {
      this.#set(WAITERS, waiters - 1);
      this.#set(TOKENS, this.#get(TOKENS) + 1);
      Atomics.add(this.i32, this.w(GEN), 1);
    } else {
      this.#set(PERMIT, 1);
    }
    unlockWord(this.i32, this.w(LOCK));
    // Every sleeper wakes and looks; exactly one claims the token.
    if (waiters > 0) Atomics.notify(this.i32, this.w(GEN));
  }

  /** Wakes every task waiting now; stores no permit. */
  notifyWaiters(): void {
    this.live('notifyWaiters()');
    lockWord(this.i32, this.w(LOCK));
    const waiters = this.#get(WAITERS);
    if (waiters > 0) {
      this.#set(EPOCH, this.#get(EPOCH) + 1);
      this.#set(WAITERS, 0);
      // safety: tokens belong to waiters of the old epoch, all of whom the epoch change wakes.
      this.#set(TOKENS, 0);
      Atomics.add(this.i32, this.w(GEN), 1);
    }
    unlockWord(this.i32, this.w(LOCK));
    if (waiters > 0) Atomics.notify(this.i32, this.w(GEN));
  }
}

registerObjectKind('Notify', (at) => new Notify(at as never));
