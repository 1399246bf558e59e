import { spawn, task } from '../src/index.js';

/** Plain sequential Fibonacci: the work each leaf task does, and the one-thread baseline. */
export function fibSeq(n: number): number {
  return n < 2 ? n : fibSeq(n - 1) + fibSeq(n - 2);
}

/**
 * Fork-join Fibonacci: above the cutoff, spawn both halves and join them.
 * Nested spawns go onto the current worker's own deque; idle workers steal.
 */
export const fib = task(import.meta.url, async function fib(n: number, cutoff: number): Promise<number> {
  if (n <= cutoff) return fibSeq(n);
  const a = spawn(fib, n - 1, cutoff);
  const b = spawn(fib, n - 2, cutoff);
  return (await a) + (await b);
});

/** How many tasks fib(n, cutoff) spawns (including the root). */
export function taskCount(n: number, cutoff: number): number {
  return n <= cutoff ? 1 : 1 + taskCount(n - 1, cutoff) + taskCount(n - 2, cutoff);
}
