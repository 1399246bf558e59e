/**
 * A runtime worker thread's entry point: attach to the runtime's shared
 * memory, install this thread's scheduler for in-task `spawn()`, and run.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { setWorkerHost } from '../src/context.js';
import { Core, type CoreConfig } from '../src/shared/core.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import { H_READY } from '../src/shared/layout.js';
import { SabRegistry } from '../src/shared/sabs.js';
import { WorkerScheduler } from './scheduler.js';
// Registers the shared kinds (Arc, Mutex, ...) so that handles sent to tasks revive here.
import '../src/index.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  heap: SharedArrayBuffer;
  config: CoreConfig;
  index: number;
  /** This worker's end of its channel to each other thread (sabs.ts). */
  peers: MessagePort[];
}

const data = workerData as WorkerData;
const heap = SharedHeap.fromBuffer(data.heap);
setGlobalHeap(heap);
const sabs = new SabRegistry(data.index + 1, data.peers);
const core = new Core(data.buffer, heap, data.config, sabs, false);
Atomics.add(core.ctl, H_READY, 1);
const scheduler = new WorkerScheduler(data.index, core, () => sabs.close());
setWorkerHost(scheduler);
scheduler.start();
