/**
 * The benchmark's task bodies as spindle tasks. spindle workers import this
 * module by its URL, so it must stay importable on its own (no side effects
 * beyond the `task()` registrations). Export names match the function names so
 * the tasks resolve whichever of the two the runtime keys them by.
 */
import { spawn, task, type Task } from '../src/index.js';
import * as body from './tasks.js';

export const tiny = task(import.meta.url, body.tiny);
export const spin = task(import.meta.url, body.spin);
export const fib = task(import.meta.url, body.fib);
export const tinyChunk = task(import.meta.url, body.tinyChunk);
export const churn = task(import.meta.url, body.churn);

/**
 * Fork-join fib: spawn fib(n-1) onto this worker's deque (where the other
 * worker can steal it), compute fib(n-2) inline, then join. Below `cutoff`
 * the plain function runs, so every leaf is real work of a known size.
 */
export const fibPar: Task<[number, number], Promise<number>> = task(
  import.meta.url,
  async function fibPar(n: number, cutoff: number): Promise<number> {
    if (n <= cutoff) return body.fib(n);
    const left = spawn(fibPar, n - 1, cutoff);
    const right = await fibPar(n - 2, cutoff);
    return (await left) + right;
  },
);

/** fibPar's recursion as plain async functions on one thread, each half awaited in turn: no runtime, no handle. */
async function fibAsync(n: number, cutoff: number): Promise<number> {
  if (n <= cutoff) return body.fib(n);
  const right = await fibAsync(n - 2, cutoff);
  return (await fibAsync(n - 1, cutoff)) + right;
}

/**
 * Times {@link fibAsync} on the worker that runs it (ns): the floor that any
 * fork-join task body with two awaits pays per node, whatever the runtime.
 */
export const fibAsyncFloor = task(import.meta.url, async function fibAsyncFloor(n: number, cutoff: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fibAsync(n, cutoff);
  return Number(process.hrtime.bigint() - t0);
});
