/**
 * How big each scenario is. The full sizes are the (100,000 tiny
 * tasks at once, 2,000 one-millisecond tasks, ~100 k fork-join tasks);
 * --quick keeps the shapes at a fifth of the size with fewer rounds, for a
 * smoke run (its tiny-task figures are not comparable with the full ones:
 * several peers get slower per task as their queue grows).
 */
import type { Rounds } from './measure.js';

export interface Sizes {
  tinyTasks: number;
  tinyRounds: Rounds;
  latencyCalls: number;
  latencyRounds: number;
  cpuTasks: number;
  cpuRounds: Rounds;
  /** fib(fibN) with sequential leaves at n <= fibCutoff. */
  fibN: number;
  fibCutoff: number;
  fibRounds: Rounds;
  rssTasks: number;
  rssRounds: number;
  /** Items through the bulk path (`map`, or hand-made chunks). */
  bulkItems: number;
  bulkRounds: Rounds;
  /** Items in the bulk scenario's one-task-per-item row (spindle only). */
  bulkEachItems: number;
}

export function sizesFor(quick: boolean): Sizes {
  return quick
    ? {
        tinyTasks: 20_000, tinyRounds: { max: 3, budgetMs: 2_000 },
        latencyCalls: 2_000, latencyRounds: 2,
        cpuTasks: 500, cpuRounds: { max: 2, budgetMs: 2_000 },
        fibN: 37, fibCutoff: 14, fibRounds: { max: 2, budgetMs: 2_000 },
        rssTasks: 20_000, rssRounds: 1,
        bulkItems: 1_000_000, bulkRounds: { max: 5, budgetMs: 2_000 }, bulkEachItems: 100_000,
      }
    : {
        tinyTasks: 100_000, tinyRounds: { max: 5, budgetMs: 6_000 },
        latencyCalls: 5_000, latencyRounds: 3,
        cpuTasks: 2_000, cpuRounds: { max: 3, budgetMs: 8_000 },
        fibN: 40, fibCutoff: 16, fibRounds: { max: 3, budgetMs: 8_000 },
        rssTasks: 100_000, rssRounds: 1,
        bulkItems: 1_000_000, bulkRounds: { max: 10, budgetMs: 6_000 }, bulkEachItems: 200_000,
      };
}
