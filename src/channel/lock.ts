/**
 * A short lock on one Int32 word that records its holder's thread, so that a
 * lock left held by a thread that died is taken over by the next thread that
 * wants it instead of hanging everyone. Channels guard a few hundred
 * nanoseconds of work with it (a push into a queue, an end-list link), and
 * order the writes inside so that the state a dead holder leaves is consistent:
 * each protected change is committed by a single store.
 *
 * The word (only through Atomics):
 *   0                          free
 *   tag | (SLEEPERS if set)    held by the thread with that 14-bit tag; SLEEPERS:
 *                              someone may sleep in Atomics.wait on the word
 *
 * Holds are short enough that the main thread may block on it (as on the
 * allocator's lock); a waiter sleeps at most POLL_MS at a time and, when a
 * death has been declared, checks whether the holder is among the dead.
 */
import { threadId } from 'node:worker_threads';
import type { SharedHeap } from '../shared/heap.js';

/** A thread's 14-bit tag (the same scheme as the ticket lock: threadId mod 16383 + 1). */
export function threadTag(id: number): number {
  return (id % 0x3fff) + 1;
}
/** This thread's tag. */
export const selfTag = threadTag(threadId);

const SLEEPERS = 1 << 30;
const TAG = 0x3fff;
const SPINS = 100;
/** How long a blocked waiter sleeps before it looks for a dead holder. */
export const POLL_MS = 25;

/** The tags of the threads declared dead in `heap`. */
export function deadTags(heap: SharedHeap): Set<number> {
  return new Set(heap.deadThreads().map(threadTag));
}

/** Acquires the lock at `i32[idx]`. */
export function lock(heap: SharedHeap, i32: Int32Array, idx: number): void {
  if (Atomics.compareExchange(i32, idx, 0, selfTag) !== 0) lockSlow(heap, i32, idx);
}

function lockSlow(heap: SharedHeap, i32: Int32Array, idx: number): void {
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, selfTag) === 0) return;
  }
  for (;;) {
    const s = Atomics.load(i32, idx);
    if (s === 0) {
      // safety: taken with SLEEPERS set: we may have been one of several sleepers, so the unlock must notify.
      if (Atomics.compareExchange(i32, idx, 0, selfTag | SLEEPERS) === 0) return;
      continue;
    }
    if ((s & SLEEPERS) === 0 && Atomics.compareExchange(i32, idx, s, s | SLEEPERS) !== s) continue;
    if (Atomics.wait(i32, idx, s | SLEEPERS, POLL_MS) === 'timed-out' && heap.deathCount() > 0) {
      // safety: the CAS from the exact word we judged is the one point where a dead holder's hold ends.
      if (deadTags(heap).has(s & TAG) && Atomics.compareExchange(i32, idx, s | SLEEPERS, selfTag | SLEEPERS) === (s | SLEEPERS)) return;
    }
  }
}

/** Releases the lock at `i32[idx]` (the caller holds it). */
export function unlock(i32: Int32Array, idx: number): void {
  if ((Atomics.exchange(i32, idx, 0) & SLEEPERS) !== 0) Atomics.notify(i32, idx, 1);
}
