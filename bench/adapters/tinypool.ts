import { fileURLToPath } from 'node:url';
import { Tinypool } from 'tinypool';
import type { Adapter } from '../adapter.js';
import type { TaskName } from '../tasks.js';

export class TinypoolAdapter implements Adapter {
  readonly name = 'tinypool';
  #pool: Tinypool | undefined;

  async start(workers: number): Promise<void> {
    const filename = fileURLToPath(new URL('../tasks.js', import.meta.url));
    this.#pool = new Tinypool({ filename, minThreads: workers, maxThreads: workers });
  }

  run(task: TaskName, arg: number): Promise<number> {
    return this.#pool!.run(arg, { name: task });
  }

  runChunk(xs: number[]): Promise<number[]> {
    return this.#pool!.run(xs, { name: 'tinyChunk' });
  }

  async close(): Promise<void> {
    await this.#pool?.destroy();
  }
}
