/**
 * Notify: wake one waiter or all of them — Tokio's `Notify`. `notifyOne()`
 * with nobody waiting stores a single permit that the next `notified()`
 * consumes at once; `notifyWaiters()` wakes everyone waiting now and stores nothing.
 * Layout: NOTIFY_BLOCK below.
 *
 * Registration happens when `notified()` is called, not when it is awaited:
 * `const n = notify.notified(); ...; await n` cannot miss a notification sent
 * in between.
 */
import { lockWord, unlockWord } from '../shared/futex.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortedError, assertMayBlock, blockChange, checkSignal, waitChange, waitOrAbort, type WaitOptions } from './wait.js';

const KIND = 0;
const LOCK = 1;
const PERMIT = 2;
const WAITERS = 3;
const TOKENS = 4;
const EPOCH = 5;
const GEN = 6;
const WORDS = 7;
const BYTES = WORDS * 4;

export const NOTIFY_BLOCK = wordTable({
  title: 'Notify block',
  base: 'A `Notify`\'s heap block (`src/sync/notify.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'LOCK', at: LOCK, words: 1, meaning: 'short lock (futex.ts) over PERMIT … EPOCH', access: 'everyone' },
    { name: 'PERMIT', at: PERMIT, words: 1, meaning: '1 when a notifyOne found no waiter', access: 'under LOCK' },
    { name: 'WAITERS', at: WAITERS, words: 1, meaning: 'registered waiters not yet notified', access: 'under LOCK' },
    { name: 'TOKENS', at: TOKENS, words: 1, meaning: 'notifyOne wake-ups not yet claimed', access: 'under LOCK' },
    { name: 'EPOCH', at: EPOCH, words: 1, meaning: 'bumped by notifyWaiters; a waiter registered in an older epoch is woken', access: 'under LOCK' },
    { name: 'GEN', at: GEN, words: 1, meaning: 'bumped on every notification; waiters sleep on it (the futex word)', access: 'notifiers → waiters' },
  ],
});

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

  /**
   * A waiter of `epoch` gives up. Registered waiters are WAITERS (not yet
   * notified) plus TOKENS (notified, not yet claimed); it is one of them.
   * While WAITERS > 0 it leaves from there, and every token still has a
   * waiter to claim it. Otherwise all of them were notified, it too: its
   * token becomes the stored permit, so the notifyOne is not lost (as Tokio
   * does for a dropped `Notified`). A notifyWaiters since (a new epoch) woke
   * it: nothing to undo.
   */
  #unregister(epoch: number): void {
    lockWord(this.i32, this.w(LOCK));
    if (this.#get(EPOCH) === epoch) {
      const waiters = this.#get(WAITERS);
      if (waiters > 0) {
        this.#set(WAITERS, waiters - 1);
      } else {
        this.#set(TOKENS, this.#get(TOKENS) - 1);
        this.#set(PERMIT, 1);
      }
    }
    unlockWord(this.i32, this.w(LOCK));
  }

  /**
   * Resolves at the next notification (or at once, consuming a stored
   * permit). Registration happens now, not when awaited. `{ signal }` gives
   * up cleanly: the waiter is unregistered (a notification it got is passed on).
   */
  notified(opts?: WaitOptions): Promise<void> {
    try {
      this.live('notified()');
      const signal = checkSignal(opts, 'Notify.notified()');
      const epoch = this.#register();
      if (epoch < 0) return Promise.resolve();
      return (async () => {
        for (;;) {
          const gen = this.#get(GEN);
          if (this.#woken(epoch)) return;
          const w = waitChange(this.i32, this.w(GEN), gen);
          if (w === undefined) continue;
          if ((signal === undefined ? await w : await waitOrAbort(w, signal)) === 'aborted') {
            this.#unregister(epoch);
            throw abortedError(signal!, 'Notify.notified()');
          }
        }
      })();
    } catch (e) {
      return Promise.reject(e);
    }
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
