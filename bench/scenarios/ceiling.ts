/**
 * The reference the CPU-bound speedups are read against: the same job lists
 * on the same number of threads, pre-split with no pool (see
 * peers/static-split.ts), timed in the same run as the pools.
 */
import type { Statistics } from 'tinybench';
import { timeBatches, type Rounds } from '../measure.js';
import { StaticSplit } from '../peers/static-split.js';

export async function ceilingTimes(workers: number, lists: Record<'cpu' | 'skewed', readonly number[]>, rounds: Rounds,
  spinPerMs: number, fib?: { n: number; expected: number; rounds: Rounds }): Promise<Record<'cpu' | 'skewed', Statistics> & { fib?: Statistics }> {
  const split = new StaticSplit(workers);
  try {
    await split.run(new Array<number>(workers * 20).fill(spinPerMs)); // start the threads, warm the JIT
    const out: Record<'cpu' | 'skewed', Statistics> & { fib?: Statistics } = {
      cpu: await timeBatches('ceiling cpu', rounds, () => split.run(lists.cpu)),
      skewed: await timeBatches('ceiling skewed', rounds, () => split.run(lists.skewed)),
    };
    if (fib !== undefined) {
      await split.runFib(fib.n - 6); // warm the JIT on the fib path
      out.fib = await timeBatches('ceiling fib', fib.rounds, async () => {
        const v = await split.runFib(fib.n);
        if (v !== fib.expected) throw new Error(`static fib(${fib.n}) = ${v}, expected ${fib.expected}`);
      });
    }
    return out;
  } finally {
    await split.close();
  }
}
