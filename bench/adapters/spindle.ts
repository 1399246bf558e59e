import type { JoinHandle, Runtime, joinAll as JoinAll } from '../../src/index.js';
import type { Adapter } from '../adapter.js';
import type * as SpindleTasks from '../spindle-tasks.js';
import type { TaskName } from '../tasks.js';

/**
 * spindle through its public API only. Both modules are imported inside
 * start() so that a runtime that is missing or broken makes start() throw,
 * which the runner reports as a skipped adapter instead of failing the suite.
 */
export class SpindleAdapter implements Adapter {
  readonly name = 'spindle';
  #rt: Runtime | undefined;
  #tasks: typeof SpindleTasks | undefined;
  #joinAll: typeof JoinAll | undefined;

  async start(workers: number): Promise<void> {
    this.#tasks = await import('../spindle-tasks.js');
    const { Runtime, joinAll } = await import('../../src/index.js');
    this.#joinAll = joinAll;
    this.#rt = new Runtime({ workers });
  }

  run(task: TaskName, arg: number): PromiseLike<number> {
    return this.#rt!.spawn(this.#tasks![task], arg);
  }

  runChunk(xs: number[]): PromiseLike<number[]> {
    return this.#rt!.spawn(this.#tasks!.tinyChunk, xs);
  }

  /** The bulk path: `rt.map(tiny, xs)`, chunks sized automatically. */
  map(xs: number[]): PromiseLike<number[]> {
    return this.#rt!.map(this.#tasks!.tiny, xs);
  }

  /** `joinAll(handles)`: one promise for them all instead of `Promise.all`'s two per handle. */
  joinAll(pending: PromiseLike<number>[]): PromiseLike<number[]> {
    return this.#joinAll!(pending as JoinHandle<number>[]);
  }

  forkJoin(n: number, cutoff: number): PromiseLike<number> {
    return this.#rt!.spawn(this.#tasks!.fibPar, n, cutoff);
  }

  async close(): Promise<void> {
    await this.#rt?.shutdown();
  }
}
