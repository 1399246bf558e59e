import { workerHost } from './context.js';
import { ERR_NO_TASK_CONTEXT, ErrorCode, SpindleError } from './errors.js';
import { withOptions, type JoinHandle } from './join.js';
import { checkSpawnOptions, type SpawnOptions } from './options.js';
import { Runtime } from './runtime.js';
import type { TaskContext } from './task-context.js';

/**
 * Spawns a task and returns its `JoinHandle` at once.
 *
 * - On the main thread it goes to the default runtime (`Runtime.default()`).
 * - Inside a running task it goes onto the current worker's own deque
 *   (fork-join): `await` the handle to join.
 *
 * `task` is a task defined with `task(import.meta.url, fn)`, or an inline
 * function that captures nothing (it is shipped as source). The arguments must
 * be able to cross threads (plain data, typed arrays, shared handles); the
 * result type is inferred from the task.
 */
export function spawn<A extends unknown[], R>(task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
  const host = workerHost();
  if (host !== undefined) return host.spawn(task, args) as JoinHandle<Awaited<R>>;
  return Runtime.default().spawn(task, ...args);
}

/**
 * Yields to the other tasks on this thread (and to its event loop): resolves
 * on the next turn of the loop.
 */
export function yieldNow(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * `spawn` with options: an external `AbortSignal`, and a `timeout` in
 * milliseconds that covers queued and running time. Either aborts the task
 * (its handle rejects with a `JoinError` whose `isCancelled()` is true).
 */
export function spawnWith<A extends unknown[], R>(
  options: SpawnOptions,
  task: (...args: A) => R,
  ...args: A
): JoinHandle<Awaited<R>> {
  checkSpawnOptions(options);
  return withOptions(spawn(task, ...args), options);
}

/**
 * The context of the task running now: its `id`, `aborted`, an AbortSignal
 * that fires when it is aborted, and `yieldNow()`, a cancellation point. Call
 * it at the start of the task, before its first `await`, and keep it.
 */
export function currentTask(): TaskContext {
  const ctx = workerHost()?.current();
  if (ctx === undefined) throw new SpindleError(ErrorCode.WRONG_CONTEXT, ERR_NO_TASK_CONTEXT);
  return ctx;
}
