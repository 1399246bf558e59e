import type { Adapter } from '../adapter.js';
import { PostMessagePool } from '../peers/postmessage-pool.js';
import type { TaskName } from '../tasks.js';

export class PostMessageAdapter implements Adapter {
  readonly name = 'postMessage pool';
  #pool: PostMessagePool | undefined;

  async start(workers: number): Promise<void> {
    this.#pool = new PostMessagePool(workers);
  }

  run(task: TaskName, arg: number): Promise<number> {
    return this.#pool!.run(task, arg);
  }

  runChunk(xs: number[]): Promise<number[]> {
    return this.#pool!.runChunk(xs);
  }

  async close(): Promise<void> {
    await this.#pool?.close();
  }
}
