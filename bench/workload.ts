/**
 * The CPU-bound job lists: iteration counts for `spin`, the same list for
 * every adapter. The skewed list makes 1 % of the tasks 50× longer at
 * positions drawn from a fixed seed, so the long tasks land at the same
 * places in every run and every pool (where a long task lands decides how
 * much of it is left as a tail).
 */
import { spin } from './tasks.js';

/** Iterations of `spin` that take about `ms` on this thread, measured after a JIT warm-up. */
export function calibrateSpin(ms = 1): number {
  const probe = 2_000_000;
  for (let i = 0; i < 5; i++) spin(probe / 10);
  let best = Infinity;
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    spin(probe);
    best = Math.min(best, performance.now() - t);
  }
  return Math.round((probe * ms) / best);
}

export function uniformJobs(count: number, perTask: number): number[] {
  return new Array<number>(count).fill(perTask);
}

/** mulberry32: tiny, seedable, good enough to scatter a few positions. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function skewedJobs(count: number, perTask: number, share = 0.01, factor = 50, seed = 42): number[] {
  const jobs = uniformJobs(count, perTask);
  const order = jobs.map((_, i) => i);
  const random = rng(seed);
  const long = Math.max(1, Math.round(count * share));
  for (let i = 0; i < long; i++) {
    const j = i + Math.floor(random() * (count - i));
    [order[i], order[j]] = [order[j]!, order[i]!];
    jobs[order[i]!] = perTask * factor;
  }
  return jobs;
}

/** Tasks the fork-join fib spawns: one per call above the cutoff, plus the root. */
export function forkJoinTasks(n: number, cutoff: number): number {
  const count = (k: number): number => (k <= cutoff ? 0 : 1 + count(k - 1) + count(k - 2));
  return count(n) + 1;
}

/** fib(n) by iteration, to check the fork-join result without paying for the recursion. */
export function fibValue(n: number): number {
  let [a, b] = [0, 1];
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}
