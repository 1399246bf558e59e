/**
 * spindle/bullmq: the same `task()` definitions run as BullMQ jobs across many
 * machines, each machine's jobs on its local spindle runtime.
 *
 * - Producer: `bullRuntime({ connection, queue })` → `spawn` / `spawnWith`
 *   return handles with the `JoinHandle` surface.
 * - Machine: `serveQueue({ connection, queue, runtime })`, or the
 *   `spindle-worker` command.
 *
 * BullMQ (and ioredis) are peer dependencies. See docs/distributed.md.
 * @packageDocumentation
 */
export {
  bullRuntime,
  BullRuntime,
  RemoteJoinHandle,
  RemoteJoinError,
  type BullRuntimeOptions,
  type RemoteJobOptions,
  type RemoteSpawnOptions,
} from './producer.js';
export { serveQueue, Machine, type ServeQueueOptions, type MachineMetrics, type MachineWorkerOptions } from './machine.js';
export { portableNameOf } from './names.js';
export type { RedisConnection } from './connection.js';
export { WIRE } from './wire.js';
