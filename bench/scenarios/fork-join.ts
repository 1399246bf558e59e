/**
 * Fork-join fib: one root task whose tasks spawn tasks, ~100 k of them, the
 * workload work stealing exists for. Efficiency = sequential time /
 * (workers × parallel time), so 1.0 is perfect scaling over the plain
 * recursive function. Only pools whose tasks can spawn tasks run it.
 */
import type { Statistics } from 'tinybench';
import type { Adapter } from '../adapter.js';
import { figureFromTimes, timeBatches, type Figure, type Rounds } from '../measure.js';

export function forkJoinTimes(a: Adapter, n: number, cutoff: number, rounds: Rounds, expected: number): Promise<Statistics> {
  return timeBatches(`${a.name} fork-join`, rounds, async () => {
    const result = await a.forkJoin!(n, cutoff);
    if (result !== expected) throw new Error(`fork-join fib(${n}) returned ${result}, expected ${expected}`);
  });
}

export function efficiency(sequentialMs: number, workers: number, parallel: Statistics): Figure {
  return figureFromTimes(parallel, (ms) => sequentialMs / (workers * ms));
}
