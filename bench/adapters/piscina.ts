import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import type { Adapter } from '../adapter.js';
import type { TaskName } from '../tasks.js';

// Default options on purpose: the figures compare pools as users get them.
export class PiscinaAdapter implements Adapter {
  readonly name = 'piscina';
  #pool: Piscina | undefined;

  async start(workers: number): Promise<void> {
    const filename = fileURLToPath(new URL('../tasks.js', import.meta.url));
    this.#pool = new Piscina({ filename, minThreads: workers, maxThreads: workers });
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
