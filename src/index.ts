/**
 * spindle: a work-stealing task runtime for Node.js worker threads — Tokio's
 * task model, with queues and shared state in SharedArrayBuffer memory.
 * @packageDocumentation
 */
export { task, type Task, type TaskFn } from './task.js';
export { spawn, yieldNow } from './spawn.js';
export { JoinHandle } from './join.js';
export { JoinError } from './errors.js';
export { Runtime, type RuntimeMetrics, type WorkerMetrics } from './runtime.js';
export type { RuntimeOptions } from './options.js';
