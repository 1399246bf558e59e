/**
 * A short-hold lock on one Int32 word: Drepper's three-state futex mutex
 * ("Futexes Are Tricky", mutex #3). bench:sync runs it beside spindle's Mutex
 * to show what FIFO hand-off costs; spindle itself no longer uses it (a lock
 * that records no holder hangs everyone when its holder dies: the runtime's
 * short locks are src/shared/owner-lock.ts). It spins before it sleeps and is not fair.
 *
 * The word (every thread reads and writes it, only through Atomics):
 *   0  unlocked
 *   1  locked, nobody sleeping on it
 *   2  locked, someone may be sleeping in Atomics.wait on it
 *
 * Node lets the main thread block in `Atomics.wait`; holds are short enough
 * that it never notices. Never hold one of these across an `await`.
 */

const SPINS = 64;

/** Acquires the short lock at `i32[idx]`. */
export function lockWord(i32: Int32Array, idx: number): void {
  if (Atomics.compareExchange(i32, idx, 0, 1) === 0) return;
  lockWordSlow(i32, idx);
}

function lockWordSlow(i32: Int32Array, idx: number): void {
  for (let i = 0; i < SPINS; i++) {
    if (Atomics.load(i32, idx) === 0 && Atomics.compareExchange(i32, idx, 0, 1) === 0) return;
  }
  // safety: exchanging in 2 (not 1) records that a sleeper may exist, so the
  // holder's unlock will notify; we may over-report waiters, never under-report.
  while (Atomics.exchange(i32, idx, 2) !== 0) {
    Atomics.wait(i32, idx, 2);
  }
}

/** Releases the short lock at `i32[idx]`; the caller must hold it. */
export function unlockWord(i32: Int32Array, idx: number): void {
  if (Atomics.sub(i32, idx, 1) !== 1) {
    // The word was 2: someone may sleep. Reset and wake one.
    Atomics.store(i32, idx, 0);
    Atomics.notify(i32, idx, 1);
  }
}
