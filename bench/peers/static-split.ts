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

  /**
   * fib(n) split up front: the recursion is unfolded into independent
   * subproblems fib(k) until there are at least 16 per thread, which are dealt
   * out by their cost (φ^k), largest first, and summed. The fork-join ceiling:
   * the same arithmetic on the same threads with perfect, free scheduling.
   */
  async runFib(n: number): Promise<number> {
    let ks = [n];
    while (ks.length < 16 * this.#workers.length && ks.some((k) => k > 2)) ks = ks.flatMap((k) => (k > 2 ? [k - 1, k - 2] : [k]));
    const loads = this.#workers.map(() => ({ cost: 0, ks: [] as number[] }));
    for (const k of ks.sort((a, b) => b - a)) {
      const least = loads.reduce((a, b) => (b.cost < a.cost ? b : a));
      least.ks.push(k);
      least.cost += 1.618 ** k;
    }
    const sums = await Promise.all(
      this.#workers.map(
        (w, i) =>
          new Promise<number>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
            w.postMessage({ fib: loads[i]!.ks });
          }),
      ),
    );
    return sums.reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}
