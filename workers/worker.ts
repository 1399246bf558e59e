/**
 * A runtime worker's bootstrap: attach to the runtime's shared memory,
 * install this thread's loop for in-task `spawn()`, and run.
 *
 * There is no worker entry file: a runtime worker starts from a few lines of
 * code (src/worker-spawn.ts) that import the module spindle's own code lives in
 * — `dist/src/worker-spawn.js` when installed, a bundle chunk when bundled —
 * and call {@link bootWorker}. So a bundled app needs no file beside it.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { setWorkerHost } from '../src/context.js';
import type { JoinError } from '../src/errors.js';
import { PanicWatch } from '../src/panics.js';
import { Core, type CoreConfig } from '../src/shared/core.js';
import { armFault, type FaultSpec } from '../src/shared/faults.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import { H_READY } from '../src/shared/layout.js';
import { SabRegistry } from '../src/shared/sabs.js';
import { setLoaderHints, type LoaderHints } from '../src/worker-loaders.js';
import { WorkerLoop } from './loop.js';
import { Modules } from './modules.js';
import { WorkerServers } from './servers.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  heap: SharedArrayBuffer;
  config: CoreConfig;
  index: number;
  /** This worker's end of its channel to each other thread (sabs.ts). */
  peers: MessagePort[];
  /** A fault point to arm (tests only). */
  fault?: FaultSpec | null;
  /** What the main thread knows about module loaders (tsx) for task modules. */
  loaders: LoaderHints;
  /** Listener commands from the main thread, and the connection counters (src/server/protocol.ts). */
  servers: { port: MessagePort; words: SharedArrayBuffer };
}

/** A message from a worker to the main thread: a panic nobody observed (panics.ts), for the runtime's onPanic hook. */
export interface PanicReport {
  spindle: 'panic';
  id: number;
  /** The panic value, encoded by the codec (decoded on main), or null if it could not be. */
  bytes: Uint8Array | null;
  message: string;
}

/** Starts this thread as runtime worker `data.index`. */
export function bootWorker(data: WorkerData): void {
  setLoaderHints(data.loaders);
  armFault(data.fault, data.index);
  const heap = SharedHeap.fromBuffer(data.heap);
  setGlobalHeap(heap);
  const sabs = new SabRegistry(data.index + 1, data.peers);
  const core = new Core(data.buffer, heap, data.config, sabs, false);
  Atomics.add(core.ctl, H_READY, 1);

  /** Sends a panic to the main thread's onPanic hook: the value encoded by the codec, or its message only. */
  const report = (id: number, value: unknown, message: string): void => {
    let bytes: Uint8Array | null = null;
    try {
      core.enc.encodeValue(value, 'the panic');
      bytes = core.enc.buf.slice(0, core.enc.pos);
    } catch {
      // Reported with its message only.
    }
    const r: PanicReport = { spindle: 'panic', id, bytes, message };
    parentPort!.postMessage(r);
  };

  // Unobserved panics of tasks spawned here go to the main thread's onPanic hook.
  const panics = new PanicWatch((e: JoinError) => report(e.id, e.intoPanic(), e.message));

  // A promise a task left rejected with no handler is that task's bug, not its neighbours': Node would
  // end the thread and fail every task running on it. It is reported like a panic nobody observed instead.
  process.on('unhandledRejection', (reason) =>
    report(0, reason, `spindle: a promise rejected with no handler on worker ${data.index}: ${describeReason(reason)}`),
  );

  // One code cache for the tasks and the connection tasks: a module is imported and looked up once.
  const modules = new Modules(core.codes);
  const servers = new WorkerServers(data.index, core, data.servers.port, new Int32Array(data.servers.words), modules);
  const loop = new WorkerLoop(data.index, core, panics, modules, () => {
    sabs.close();
    data.servers.port.close();
  }, servers);
  setWorkerHost(loop);
  loop.start();
}

function describeReason(r: unknown): string {
  if (r instanceof Error) return `${r.name}: ${r.message}`;
  try {
    return String(r);
  } catch {
    return typeof r;
  }
}
