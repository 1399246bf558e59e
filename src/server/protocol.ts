/**
 * What the main thread and the workers say about listeners. Commands travel
 * on one MessagePort per worker, which the worker drains with
 * `receiveMessageOnPort` from its run loop (a worker parked in `Atomics.wait`
 * runs no event loop, so a 'message' listener would never fire); a sequence
 * word in shared memory tells it that something is waiting. Counters are
 * shared words, read by `metrics()` without asking anyone.
 */

// Words of the servers buffer (Int32, every access through `Atomics`).
/** Connections open on every worker together (the maxConnections check). */
export const SRV_OPEN_ALL = 0;
/** Words before the first worker's. */
export const SRV_HEADER = 4;
/** Words per worker. */
export const SRV_STRIDE = 4;
/** Per worker: bumped by main after each command posted (worker: drain when it moved). */
export const SRV_SEQ = 0;
/** Per worker: connections accepted, ever. */
export const SRV_ACCEPTED = 1;
/** Per worker: connections open now. */
export const SRV_OPEN = 2;

/** Int32 words for `workers` workers. */
export const serverWords = (workers: number): number => SRV_HEADER + workers * SRV_STRIDE;
/** Index of `field` of worker w. */
export const workerWord = (w: number, field: number): number => SRV_HEADER + w * SRV_STRIDE + field;

/** A command from the main thread to a worker. */
export type ServerCommand =
  | {
      t: 'listen';
      id: number;
      fd: number;
      code: number;
      /** The extra arguments, encoded as stored values (shared handles by reference). */
      args: Uint8Array;
      maxConnections: number;
      backlog: number;
    }
  | { t: 'close'; id: number; timeout: number };

/** A worker's answer to the main thread. */
export type ServerReport =
  | { t: 'listening'; id: number }
  | { t: 'failed'; id: number; message: string }
  | { t: 'closed'; id: number };
