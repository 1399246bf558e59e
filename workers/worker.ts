/**
 * A runtime worker's bootstrap: attach to the runtime's shared memory,
 * install this thread's scheduler for in-task `spawn()`, and run.
 *
 * There is no worker entry file: a runtime worker starts from a few lines of
 * code (src/worker-spawn.ts) that import the module spindle's own code lives in
 * — `dist/src/worker-spawn.js` when installed, a bundle chunk when bundled —
 * and call {@link bootWorker}. So a bundled app needs no file beside it.
 */
import type { MessagePort } from 'node:worker_threads';
import { setWorkerHost } from '../src/context.js';
import { Core, type CoreConfig } from '../src/shared/core.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import { H_READY } from '../src/shared/layout.js';
import { SabRegistry } from '../src/shared/sabs.js';
import { setLoaderHints, type LoaderHints } from '../src/worker-loaders.js';
import { WorkerScheduler } from './scheduler.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  heap: SharedArrayBuffer;
  config: CoreConfig;
  index: number;
  /** This worker's end of its channel to each other thread (sabs.ts). */
  peers: MessagePort[];
  /** What the main thread knows about module loaders (tsx) for task modules. */
  loaders: LoaderHints;
}

/** Starts this thread as runtime worker `data.index`. */
export function bootWorker(data: WorkerData): void {
  setLoaderHints(data.loaders);
  const heap = SharedHeap.fromBuffer(data.heap);
  setGlobalHeap(heap);
  const sabs = new SabRegistry(data.index + 1, data.peers);
  const core = new Core(data.buffer, heap, data.config, sabs, false);
  Atomics.add(core.ctl, H_READY, 1);
  const scheduler = new WorkerScheduler(data.index, core, () => sabs.close());
  setWorkerHost(scheduler);
  scheduler.start();
}
