import type { Adapter } from '../adapter.js';
import { fib, tasks, tinyChunk, type TaskName } from '../tasks.js';

/**
 * The baseline: the task runs inline on the main thread. Speedups divide its
 * time by a pool's; fork-join efficiency divides its sequential fib by the
 * parallel one. The promise wrapper keeps the call shape the same as a pool's.
 */
export class OneThreadAdapter implements Adapter {
  readonly name = 'one thread';

  async start(): Promise<void> {}

  run(task: TaskName, arg: number): Promise<number> {
    return Promise.resolve(tasks[task](arg));
  }

  runChunk(xs: number[]): Promise<number[]> {
    return Promise.resolve(tinyChunk(xs));
  }

  forkJoin(n: number): Promise<number> {
    return Promise.resolve(fib(n));
  }

  async close(): Promise<void> {}
}
