import type { TaskName } from './tasks.js';

/**
 * What the benchmark needs from a pool. One implementation per pool lives in
 * adapters/; the runner and the RSS child only ever talk to this interface.
 */
export interface Adapter {
  readonly name: string;
  /** Creates the pool with `workers` threads; throwing here skips the adapter (with the reason printed). */
  start(workers: number): Promise<void>;
  /** Runs `tasks[task](arg)` on the pool. PromiseLike so spindle's JoinHandle is returned unwrapped. */
  run(task: TaskName, arg: number): PromiseLike<number>;
  /** Runs `tinyChunk(xs)` on the pool as one task: the bulk scenario's manual chunking. */
  runChunk(xs: number[]): PromiseLike<number[]>;
  /** The pool's own bulk path over `tiny` (spindle's `map`); pools without one are chunked by hand. */
  map?(xs: number[]): PromiseLike<number[]>;
  /** The pool's own way to await many results at once (spindle's `joinAll`); others have `Promise.all` only. */
  joinAll?(pending: PromiseLike<number>[]): PromiseLike<number[]>;
  /** Parallel fib(n) by nested spawns down to `cutoff`; only pools whose tasks can spawn tasks have it. */
  forkJoin?(n: number, cutoff: number): PromiseLike<number>;
  close(): Promise<void>;
}
