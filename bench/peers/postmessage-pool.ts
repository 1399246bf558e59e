/**
 * The simplest pool worth comparing against: round-robin dispatch, one
 * postMessage per task and one per result, no queue of its own. It shows what
 * worker_threads messaging costs before any pool logic is added.
 */
import { Worker } from 'node:worker_threads';
import type { TaskName } from '../tasks.js';

type Settle = { resolve: (v: never) => void; reject: (e: unknown) => void };

export class PostMessagePool {
  readonly #workers: Worker[];
  readonly #pending = new Map<number, Settle>();
  #next = 0;
  #ids = 0;

  constructor(workers: number) {
    this.#workers = Array.from({ length: workers }, () => {
      const w = new Worker(new URL('./postmessage-worker.js', import.meta.url));
      w.on('message', ([id, ok, value]: [number, boolean, unknown]) => {
        const settle = this.#pending.get(id)!;
        this.#pending.delete(id);
        if (ok) settle.resolve(value as never);
        else settle.reject(value);
      });
      w.on('error', (e) => {
        for (const s of this.#pending.values()) s.reject(e);
        this.#pending.clear();
      });
      return w;
    });
  }

  run(task: TaskName, arg: number): Promise<number> {
    return this.#post(task, arg);
  }

  /** `tinyChunk(xs)` as one task (the bulk scenario). */
  runChunk(xs: number[]): Promise<number[]> {
    return this.#post('tinyChunk', xs);
  }

  #post<T>(task: TaskName | 'tinyChunk', arg: number | number[]): Promise<T> {
    const id = this.#ids++;
    const worker = this.#workers[this.#next]!;
    this.#next = (this.#next + 1) % this.#workers.length;
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { resolve: resolve as (v: never) => void, reject });
      worker.postMessage([id, task, arg]);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
