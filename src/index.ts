/**
 * spindle: a work-stealing task runtime for Node.js worker threads — Tokio's
 * task model, with queues and shared state in SharedArrayBuffer memory.
 * @packageDocumentation
 */
export { task, type Task, type TaskFn } from './task.js';
export { spawn, spawnWith, yieldNow, currentTask } from './spawn.js';
export { JoinHandle, AbortHandle, joinAll, type AbortOptions } from './join.js';
export { TaskContext } from './task-context.js';
export { registerError } from './shared/codec.js';
export { JoinError, SpindleError, ErrorCode, type PanicResult } from './errors.js';
export { Runtime, type RuntimeMetrics, type WorkerMetrics } from './runtime.js';
export type { MapOptions, RuntimeOptions, ShutdownOptions, SpawnOptions } from './options.js';
export { map } from './task/map.js';
export * from './sync/index.js';
export * from './channel/index.js';
export { JoinSet, type JoinSetOptions, type JoinedWithId } from './task/join-set.js';
export { scope, Scope } from './task/scope.js';
export { Listener, type CloseOptions } from './server/listener.js';
export type { ListenOptions } from './server/options.js';
