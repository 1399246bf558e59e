/**
 * The channels' short lock: the owner-recording lock of shared/owner-lock.ts
 * (a lock left held by a thread that died is taken over by the next thread
 * that wants it). Channels guard a few hundred nanoseconds of work with it (a
 * push into a queue, an end-list link), and order the writes inside so that
 * the state a dead holder leaves is consistent: each protected change is
 * committed by a single store. A waiter sleeps at most POLL_MS at a time and,
 * when a death has been declared, checks whether the holder is among the dead.
 */
import type { SharedHeap } from '../shared/heap.js';
import { lockOwnedSlow, selfTag, threadTag, tryLockOwned, unlockOwned } from '../shared/owner-lock.js';

export { selfTag, threadTag };

const SPINS = 100;
/** How long a blocked waiter sleeps before it looks for a dead holder. */
export const POLL_MS = 25;

/** The tags of the threads declared dead in `heap`. */
export function deadTags(heap: SharedHeap): Set<number> {
  return new Set(heap.deadThreads().map(threadTag));
}

/** Acquires the lock at `i32[idx]`. */
export function lock(heap: SharedHeap, i32: Int32Array, idx: number): void {
  if (!tryLockOwned(i32, idx)) lockOwnedSlow(i32, idx, SPINS, POLL_MS, (tag) => heap.deathCount() > 0 && deadTags(heap).has(tag));
}

/** Releases the lock at `i32[idx]` (the caller holds it). */
export const unlock = unlockOwned;
