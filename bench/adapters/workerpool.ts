import { fileURLToPath } from 'node:url';
import workerpool from 'workerpool';
import type { Adapter } from '../adapter.js';
import type { TaskName } from '../tasks.js';

export class WorkerpoolAdapter implements Adapter {
  readonly name = 'workerpool';
  #pool: ReturnType<typeof workerpool.pool> | undefined;

  async start(workers: number): Promise<void> {
    const script = fileURLToPath(new URL('../peers/workerpool-worker.js', import.meta.url));
    // workerType 'thread': the default picks child processes on some setups; compare threads with threads.
    this.#pool = workerpool.pool(script, { minWorkers: workers, maxWorkers: workers, workerType: 'thread' });
  }

  run(task: TaskName, arg: number): Promise<number> {
    return this.#pool!.exec(task, [arg]);
  }

  runChunk(xs: number[]): Promise<number[]> {
    return this.#pool!.exec('tinyChunk', [xs]);
  }

  async close(): Promise<void> {
    await this.#pool?.terminate();
  }
}
