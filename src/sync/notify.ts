/**
 * Notify: wake one waiter or all of them — Tokio's `Notify`. `notifyOne()`
 * with nobody waiting stores a single permit that the next `notified()`
 * consumes at once; `notifyWaiters()` wakes everyone waiting now and stores nothing.
 * Layout: NOTIFY_BLOCK below.
 *
 * Registration happens when `notified()` is called, not when it is awaited:
 * `const n = notify.notified(); ...; await n` cannot miss a notification sent
 * in between.
 *
 * Death-safety: the whole state (permit, waiters, tokens, epoch) is one 64-bit
 * word, and every transition is one compare-and-swap of it: a thread that
 * dies anywhere in a Notify call (terminated, out of memory) leaves the state
 * as it was before or after its step, never half changed, and no lock held.
 * Sleepers sleep on GEN, which a notifier bumps after its transition; one
 * that dies in between (fault point `mid-sync-wake`) delays its waiters by at
 * most a poll period (they look at STATE again after each POLL_MS sleep).
 */
import { rangeError } from '../errors.js';
import { fault, faultsOn } from '../shared/faults.js';
import { wordTable } from '../shared/word-table.js';
import type { Attach, SharedOptions } from './block.js';
import { SharedObject, registerObjectKind } from './object.js';
import { abortedError, assertMayBlock, blockChange, checkSignal, waitChange, waitOrAbort, type WaitOptions } from './wait.js';
import { wake } from '../shared/wake.js';

const KIND = 0;
const PAD = 1;
const STATE = 2; // words 2-3: one BigInt64 (8-aligned: heap blocks are)
const GEN = 4;
const WORDS = 5;
const BYTES = WORDS * 4;

// STATE is read and compare-and-swapped as one BigInt64, and taken apart as its two unsigned
// 32-bit halves (so that a transition costs a few BigInt operations, not one per field):
//   low half:  bits 0–19 WAITERS, bit 20 PERMIT, bits 21–31 the EPOCH's low 11 bits
//   high half: bits 0–19 TOKENS, bits 20–31 the EPOCH's high 12 bits
const COUNT_BITS = 20;
const COUNT = 2 ** COUNT_BITS - 1;
const PERMIT = 2 ** COUNT_BITS;
const EPOCH_LO_SHIFT = COUNT_BITS + 1;
const EPOCH_LO_BITS = 32 - EPOCH_LO_SHIFT;
const EPOCH_HI_SHIFT = COUNT_BITS;
const EPOCH_BITS = EPOCH_LO_BITS + (32 - EPOCH_HI_SHIFT);
/** The most registered waiters (not yet notified plus notified, not yet claimed) one Notify can hold. */
export const MAX_NOTIFY_WAITERS = COUNT;

function lowOf(word: bigint): number {
  return Number(BigInt.asUintN(32, word));
}
function highOf(word: bigint): number {
  return Number(BigInt.asUintN(32, word >> 32n));
}
function join(low: number, high: number): bigint {
  return BigInt.asIntN(64, (BigInt(high >>> 0) << 32n) | BigInt(low >>> 0));
}
function epochOf(low: number, high: number): number {
  return (high >>> EPOCH_HI_SHIFT) * 2 ** EPOCH_LO_BITS + (low >>> EPOCH_LO_SHIFT);
}
/** `low` with epoch `e`'s low bits (mod 2^EPOCH_BITS). */
function lowWithEpoch(low: number, e: number): number {
  return ((low & (PERMIT | COUNT)) | ((e & (2 ** EPOCH_LO_BITS - 1)) << EPOCH_LO_SHIFT)) >>> 0;
}
/** `high` with epoch `e`'s high bits. */
function highWithEpoch(high: number, e: number): number {
  return ((high & COUNT) | (((e >>> EPOCH_LO_BITS) & (2 ** (EPOCH_BITS - EPOCH_LO_BITS) - 1)) << EPOCH_HI_SHIFT)) >>> 0;
}

export const NOTIFY_BLOCK = wordTable({
  title: 'Notify block',
  base: 'A `Notify`\'s heap block (`src/sync/notify.ts`), from its first word',
  unit: 'word',
  size: WORDS,
  rows: [
    { name: 'KIND', at: KIND, words: 1, meaning: 'kind tag (block.ts)', access: 'creator → revivers' },
    { name: 'PAD', at: PAD, words: 1, meaning: 'unused (aligns STATE to 8 bytes)', access: '—' },
    {
      name: 'STATE',
      at: STATE,
      words: 2,
      meaning:
        `one BigInt64, changed only by compareExchange. Word 2 (low half): bits 0–${COUNT_BITS - 1} WAITERS (registered, not yet notified), ` +
        `bit ${COUNT_BITS} PERMIT (a notifyOne found no waiter), bits ${EPOCH_LO_SHIFT}–31 the EPOCH's low ${EPOCH_LO_BITS} bits. ` +
        `Word 3 (high half): bits 0–${COUNT_BITS - 1} TOKENS (notifyOne wake-ups not yet claimed), bits ${EPOCH_HI_SHIFT}–31 the EPOCH's high bits. ` +
        `EPOCH (${EPOCH_BITS} bits, wraps) is bumped by notifyWaiters; a waiter registered in another epoch is woken`,
      access: 'everyone (CAS)',
    },
    { name: 'GEN', at: GEN, words: 1, meaning: 'bumped after every notification; waiters sleep on it (the futex word)', access: 'notifiers → waiters' },
  ],
});

/** STATE, unpacked (tests look at it: `_state()`). */
export interface NotifyState {
  permit: boolean;
  waiters: number;
  tokens: number;
  epoch: number;
}

/** @internal The STATE word that holds `s` (tests set edge states with it). */
export function notifyWord(s: NotifyState): bigint {
  const e = s.epoch;
  return join(lowWithEpoch((s.permit ? PERMIT : 0) | s.waiters, e), highWithEpoch(s.tokens, e));
}


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

  get #at(): number {
    return (this.off >> 3) + (STATE >> 1);
  }

  /** @internal */
  _state(): NotifyState {
    const word = Atomics.load(this.heap.i64, this.#at);
    const low = lowOf(word);
    const high = highOf(word);
    return { permit: (low & PERMIT) !== 0, waiters: low & COUNT, tokens: high & COUNT, epoch: epochOf(low, high) };
  }

  // Every change of STATE below is a loop around one compareExchange from the exact word it
  // judged (#swap): the transition happens whole or not at all, whoever dies where.

  #swap(word: bigint, low: number, high: number): boolean {
    return Atomics.compareExchange(this.heap.i64, this.#at, word, join(low, high)) === word;
  }

  /** Bumps GEN and wakes its sleepers (after a transition that notified someone). */
  #wakeSleepers(): void {
    if (faultsOn) fault('mid-sync-wake');
    Atomics.add(this.i32, this.w(GEN), 1);
    wake(this.i32, this.w(GEN));
  }

  /** Consumes the stored permit, or registers as a waiter; returns the epoch registered in (-1: permit taken). */
  #register(): number {
    for (;;) {
      const word = Atomics.load(this.heap.i64, this.#at);
      const low = lowOf(word);
      const high = highOf(word);
      if ((low & PERMIT) !== 0) {
        if (this.#swap(word, low & ~PERMIT, high)) return -1;
        continue;
      }
      if ((low & COUNT) + (high & COUNT) >= MAX_NOTIFY_WAITERS) {
        throw rangeError(`spindle: Notify.notified(): this Notify already has ${MAX_NOTIFY_WAITERS} registered waiters, the most it can hold`);
      }
      if (this.#swap(word, low + 1, high)) return epochOf(low, high);
    }
  }

  /** True when a registered waiter (of `epoch`) has been notified; claims a notifyOne token if there is one. */
  #woken(epoch: number): boolean {
    for (;;) {
      const word = Atomics.load(this.heap.i64, this.#at);
      const low = lowOf(word);
      const high = highOf(word);
      if (epochOf(low, high) !== epoch) return true;
      if ((high & COUNT) === 0) return false;
      if (this.#swap(word, low, high - 1)) return true;
    }
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
    for (;;) {
      const word = Atomics.load(this.heap.i64, this.#at);
      const low = lowOf(word);
      const high = highOf(word);
      if (epochOf(low, high) !== epoch) return;
      if ((low & COUNT) > 0 ? this.#swap(word, low - 1, high) : this.#swap(word, (low | PERMIT) >>> 0, high - 1)) return;
    }
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
          const gen = Atomics.load(this.i32, this.w(GEN));
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
      const gen = Atomics.load(this.i32, this.w(GEN));
      if (this.#woken(epoch)) return;
      blockChange(this.i32, this.w(GEN), gen);
    }
  }

  /** Wakes one waiter; with none waiting, stores a permit (at most one) for the next `notified()`. */
  notifyOne(): void {
    this.live('notifyOne()');
    for (;;) {
      const word = Atomics.load(this.heap.i64, this.#at);
      const low = lowOf(word);
      const high = highOf(word);
      if ((low & COUNT) === 0) {
        if ((low & PERMIT) !== 0 || this.#swap(word, (low | PERMIT) >>> 0, high)) return;
      } else if (this.#swap(word, low - 1, high + 1)) {
        // Every sleeper wakes and looks; exactly one claims the token.
        this.#wakeSleepers();
        return;
      }
    }
  }

  /** Wakes every task waiting now; stores no permit. */
  notifyWaiters(): void {
    this.live('notifyWaiters()');
    for (;;) {
      const word = Atomics.load(this.heap.i64, this.#at);
      const low = lowOf(word);
      const high = highOf(word);
      if ((low & COUNT) === 0) return;
      // safety: tokens belong to waiters of the old epoch, all of whom the epoch change wakes. The
      // epoch wraps after 2^EPOCH_BITS of these: a waiter would have to sleep through all of them,
      // each one a wake-up it is sent, to take the epoch for its own again.
      const e = epochOf(low, high) + 1;
      if (this.#swap(word, lowWithEpoch(low & PERMIT, e), highWithEpoch(0, e))) {
        this.#wakeSleepers();
        return;
      }
    }
  }
}

registerObjectKind('Notify', (at) => new Notify(at as never));
