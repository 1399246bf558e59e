/**
 * Task ids, unique within the process: `threadId · 2^32 + n`, where `n` counts
 * the tasks this thread has spawned. Node never reuses a `threadId` in a
 * process, so two runtimes, a worker and its replacement, or a runtime inside a
 * user's worker never hand out the same id. The counter lives on `globalThis`,
 * so two copies of spindle loaded in one thread (bundled and installed) share it.
 */
import { threadId } from 'node:worker_threads';

const KEY = Symbol.for('spindle.taskIds');
const counter = ((globalThis as Record<symbol, unknown>)[KEY] ??= { n: 0 }) as { n: number };
const base = threadId * 2 ** 32;

/** The next task id of this thread. */
export function nextTaskId(): number {
  return base + ++counter.n;
}
