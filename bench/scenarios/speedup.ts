/**
 * CPU-bound speedup: a list of busy-loop tasks (uniform, or with 1 % of them
 * 50× longer) submitted at once. speedup = one-thread time / pool time, both
 * taken in this run. The skewed list shows how well a pool balances load when
 * it cannot know task sizes in advance.
 */
import type { Statistics } from 'tinybench';
import type { Adapter } from '../adapter.js';
import { figureFromTimes, timeBatches, type Figure, type Rounds } from '../measure.js';

export function cpuBatchTimes(a: Adapter, label: string, jobs: readonly number[], rounds: Rounds): Promise<Statistics> {
  return timeBatches(`${a.name} ${label}`, rounds, () => Promise.all(jobs.map((iterations) => a.run('spin', iterations))));
}

/** `baselineMs / pool time`, per round for the spread. */
export function speedup(baselineMs: number, pool: Statistics): Figure {
  return figureFromTimes(pool, (ms) => baselineMs / ms);
}
