/**
 * The reference the CPU-bound speedups are read against: the same job lists
 * on the same number of threads, pre-split with no pool (see
 * peers/static-split.ts), timed in the same run as the pools.
 */
import type { Statistics } from 'tinybench';
import { timeBatches, type Rounds } from '../measure.js';
import { StaticSplit } from '../peers/static-split.js';

export async function ceilingTimes(workers: number, lists: Record<'cpu' | 'skewed', readonly number[]>, rounds: Rounds,
  spinPerMs: number): Promise<Record<'cpu' | 'skewed', Statistics>> {
  const split = new StaticSplit(workers);
  try {
    await split.run(new Array<number>(workers * 20).fill(spinPerMs)); // start the threads, warm the JIT
    return {
      cpu: await timeBatches('ceiling cpu', rounds, () => split.run(lists.cpu)),
      skewed: await timeBatches('ceiling skewed', rounds, () => split.run(lists.skewed)),
    };
  } finally {
    await split.close();
  }
}
