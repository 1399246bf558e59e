/**
 * A short lock on one Int32 word that records its holder's thread, so that a
 * lock left held by a thread that died is taken over by the next thread that
 * wants it instead of hanging everyone. Its users guard a few hundred
 * nanoseconds of work with it and order the writes inside so that the state a
 * dead holder leaves is consistent: each protected change is committed by a
 * single store. Used by the shared heap's allocator (heap.ts, H_LOCK) and by
 * channels (channel/lock.ts).
 *
 * The word (only through Atomics):
 *   0                          free
 *   tag | (SLEEPERS if set)    held by the thread with that 14-bit tag; SLEEPERS:
 *                              someone may sleep in Atomics.wait on the word
 *
 * Holds are short enough that the main thread may block on it; a waiter sleeps
 * at most `pollMs` at a time, then asks its user's `holderDead(tag)` and takes
 * the lock over from a dead holder with one CAS.
 */
import { threadId } from 'node:worker_threads';

/** Bits of a lock-owner tag: thread ids are folded into 1..OWNER_TAGS. */
export const OWNER_TAGS = 0x3fff;
/** The 14-bit tag a thread records as a lock's owner (thread ids wrap modulo 16383). */
export function threadTag(id: number): number {
  return (id % OWNER_TAGS) + 1;
}
/** This thread's tag. */
export const selfTag = threadTag(threadId);

const SLEEPERS = 1 << 30;

/** Takes the lock at `i32[idx]` when it is free at once; else call {@link lockOwnedSlow}. */
export function tryLockOwned(i32: Int32Array, idx: number): boolean {
  return Atomics.compareExchange(i32, idx, 0, selfTag) === 0;
}

/**
 * Acquires the lock at `i32[idx]`: `spins` looks, then sleeps of `pollMs`;
 * after each sleep that ran out, `holderDead(tag)` says whether the holder is
 * dead (then its hold ends here).
 */
export function lockOwnedSlow(i32: Int32Array, idx: number, spins: number, pollMs: number, holderDead: (tag: number) => boolean): void {
  for (let i = 0; i < spins; i++) {
    if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, selfTag) === 0) return;
  }
  for (;;) {
    const s = Atomics.load(i32, idx);
    if (s === 0) {
      // safety: taken with SLEEPERS set: we may have been one of several sleepers, so our unlock must notify.
      if (Atomics.compareExchange(i32, idx, 0, selfTag | SLEEPERS) === 0) return;
      continue;
    }
    if ((s & SLEEPERS) === 0 && Atomics.compareExchange(i32, idx, s, s | SLEEPERS) !== s) continue;
    if (Atomics.wait(i32, idx, s | SLEEPERS, pollMs) === 'timed-out' && holderDead(s & OWNER_TAGS)) {
      // safety: the CAS from the exact word we judged is the one point where a dead holder's hold ends.
      if (Atomics.compareExchange(i32, idx, s | SLEEPERS, selfTag | SLEEPERS) === (s | SLEEPERS)) return;
    }
  }
}

/** Releases the lock at `i32[idx]` (the caller holds it). */
export function unlockOwned(i32: Int32Array, idx: number): void {
  if ((Atomics.exchange(i32, idx, 0) & SLEEPERS) !== 0) Atomics.notify(i32, idx, 1);
}

/** True when this thread holds the lock at `i32[idx]`. */
export function heldByThisThread(i32: Int32Array, idx: number): boolean {
  return (Atomics.load(i32, idx) & OWNER_TAGS) === selfTag;
}
