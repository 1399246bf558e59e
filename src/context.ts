/**
 * Which side of the runtime this thread is on. A worker thread installs its
 * scheduler here at start-up, so that `spawn()` called from inside a task goes
 * onto that worker's own deque instead of a main-thread runtime.
 */
import type { JoinHandle } from './join.js';
import type { TaskContext } from './task-context.js';

export interface WorkerHost {
  /** `awaitable: false` for a handle never handed out (JoinSet's): see JoinHandle's constructor. */
  spawn(fn: unknown, args: unknown[], awaitable?: boolean): JoinHandle<any>;
  /** The worker's index in its runtime. */
  readonly index: number;
  /** The task whose synchronous part is running now. */
  current(): TaskContext | undefined;
  /** Worker threads in this runtime (`map()` sizes its chunks by it). */
  readonly workers: number;
}

const KEY = Symbol.for('spindle.workerHost');
type G = { [KEY]?: WorkerHost };

export function setWorkerHost(h: WorkerHost): void {
  (globalThis as G)[KEY] = h;
}

/** The scheduler of the runtime worker this code runs on, or undefined on any other thread. */
export function workerHost(): WorkerHost | undefined {
  return (globalThis as G)[KEY];
}

const RUNTIME_WORKER = Symbol.for('spindle.runtimeWorker');
type R = { [RUNTIME_WORKER]?: true };

/** Marks this thread as a runtime worker: set first thing at its start, before any module of the program loads. */
export function markRuntimeWorker(): void {
  (globalThis as R)[RUNTIME_WORKER] = true;
}

/** True on a runtime worker, from its first line on (its scheduler may not be installed yet). */
export function inRuntimeWorker(): boolean {
  return (globalThis as R)[RUNTIME_WORKER] === true || workerHost() !== undefined;
}
