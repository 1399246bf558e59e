/**
 * The machine's ceiling for a CPU-bound batch: no pool at all. The job list is
 * split up front, longest jobs first onto the least-loaded thread (what a
 * scheduler that knew every task's length would do), each thread gets its
 * share in one message and replies once. What is left between this and
 * workers× is the machine (cores shared with the main thread, the OS, other
 * processes), not dispatch.
 */
import { Worker } from 'node:worker_threads';

export function partition(jobs: readonly number[], parts: number): number[][] {
  const out = Array.from({ length: parts }, () => ({ load: 0, jobs: [] as number[] }));
  for (const job of [...jobs].sort((a, b) => b - a)) {
    const least = out.reduce((a, b) => (b.load < a.load ? b : a));
    least.jobs.push(job);
    least.load += job;
  }
  return out.map((p) => p.jobs);
}

export class StaticSplit {
  readonly #workers: Worker[];

  constructor(workers: number) {
    const script = new URL('./static-split-worker.js', import.meta.url);
    this.#workers = Array.from({ length: workers }, () => new Worker(script));
  }

  /** Runs `spin` over every job of `jobs`, split across the threads. */
  run(jobs: readonly number[]): Promise<unknown> {
    const parts = partition(jobs, this.#workers.length);
    return Promise.all(
      this.#workers.map(
        (w, i) =>
          new Promise((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.postMessage(parts[i]);
          }),
      ),
    );
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
