import { fileURLToPath } from 'node:url';
import { FixedThreadPool } from 'poolifier';
import type { Adapter } from '../adapter.js';
import type { TaskName } from '../tasks.js';

export class PoolifierAdapter implements Adapter {
  readonly name = 'poolifier';
  #pool: FixedThreadPool<number | number[], number | number[]> | undefined;

  async start(workers: number): Promise<void> {
    const file = fileURLToPath(new URL('../peers/poolifier-worker.js', import.meta.url));
    this.#pool = new FixedThreadPool<number | number[], number | number[]>(workers, file);
  }

  run(task: TaskName, arg: number): Promise<number> {
    return this.#pool!.execute(arg, task) as Promise<number>;
  }

  runChunk(xs: number[]): Promise<number[]> {
    return this.#pool!.execute(xs, 'tinyChunk') as Promise<number[]>;
  }

  async close(): Promise<void> {
    await this.#pool?.destroy();
  }
}
