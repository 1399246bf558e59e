/**
 * A holder ledger: which threads hold a share of a primitive that does not
 * record one owner (a Semaphore's permits, an RwLock's readers and waiting
 * writers), so that what a dead thread held can be given back.
 *
 * The ledger is LEDGER_SLOTS entries of `width` words in the primitive's block:
 * word 0 the holder's thread tag (0 = free), then its counts.
 *
 * - **Claiming.** A thread claims one entry, once, by a CAS of a free TAG to its
 *   own tag, and keeps it: its counts go up and down there. A thread that finds
 *   the ledger full (after giving back the dead's entries) is UNTRACKED: what
 *   it holds works as before, but is lost if it dies.
 * - **Counting.** The primitive changes a count right after the atomic step
 *   that takes or gives back what it counts, with no call or loop back-edge in
 *   between: a worker is terminated only at one of those, so from a
 *   recoverer's view the ledger and the primitive's state change together.
 * - **Giving back.** A waiter whose sleep ran out sweeps the ledger: for each
 *   entry whose thread is dead (`SharedHeap.isTagDead`), the primitive's
 *   `give` takes the counts with `exchange` (one recoverer gets them) and
 *   undoes them in its state; the entry is freed afterwards.
 */
import type { SharedHeap } from '../shared/heap.js';
import { selfTag } from '../shared/owner-lock.js';

/** Holder threads a ledger tracks at once. */
export const LEDGER_SLOTS = 16;
/** What `claim` returns when the ledger is full. */
export const UNTRACKED = -1;

/** Int32 index of this thread's entry (its TAG word) in the ledger at `base` of `width`-word entries, or -1. */
function find(i32: Int32Array, base: number, width: number): { mine: number; free: number } {
  let free = -1;
  for (let e = 0; e < LEDGER_SLOTS; e++) {
    const at = base + e * width;
    const tag = Atomics.load(i32, at);
    if (tag === selfTag) return { mine: at, free };
    if (tag === 0 && free < 0) free = at;
  }
  return { mine: -1, free };
}

/**
 * This thread's entry in the ledger at `base` (Int32 index of its TAG word),
 * claimed if it has none; `sweep()` (giving back the dead's entries) runs
 * when none is free. UNTRACKED when the ledger is full.
 */
export function claimEntry(i32: Int32Array, base: number, width: number, sweep: () => void): number {
  const { mine, free } = find(i32, base, width);
  if (mine >= 0) return mine;
  // safety: an entry is claimed by one CAS of its TAG from 0, and its counts are 0 then (a
  // recoverer empties them before it frees the TAG).
  if (free >= 0 && Atomics.compareExchange(i32, free, 0, selfTag) === 0) return free;
  sweep();
  for (let e = 0; e < LEDGER_SLOTS; e++) {
    const at = base + e * width;
    if (Atomics.compareExchange(i32, at, 0, selfTag) === 0) return at;
  }
  return UNTRACKED;
}

/** For each entry of a dead thread: `give(entry)` (which takes its counts by `exchange`), then the entry is freed. */
export function sweepDead(heap: SharedHeap, i32: Int32Array, base: number, width: number, give: (entry: number) => void): void {
  for (let e = 0; e < LEDGER_SLOTS; e++) {
    const at = base + e * width;
    const tag = Atomics.load(i32, at);
    if (tag === 0 || tag === selfTag || !heap.isTagDead(tag)) continue;
    // (A recoverer that dies inside `give`, between an exchange and the state change, loses
    // those counts: a second death, in a window of one call.)
    give(at);
    Atomics.compareExchange(i32, at, tag, 0);
  }
}
