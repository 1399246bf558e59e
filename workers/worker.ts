/**
 * A runtime worker thread's entry point: attach to the runtime's shared
 * memory, install this thread's scheduler for in-task `spawn()`, and run.
 */
import { workerData } from 'node:worker_threads';
import { setWorkerHost } from '../src/context.js';
import { Core, type CoreConfig } from '../src/shared/core.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import { BroadcastSabTable } from '../src/shared/sabs.js';
import { WorkerScheduler } from './scheduler.js';
// Registers the shared kinds (Arc, Mutex, ...) so that handles sent to tasks revive here.
import '../src/index.js';

export interface WorkerData {
  buffer: SharedArrayBuffer;
  heap: SharedArrayBuffer;
  config: CoreConfig;
  index: number;
  channel: string;
}

const data = workerData as WorkerData;
const heap = SharedHeap.fromBuffer(data.heap);
setGlobalHeap(heap);
const sabs = new BroadcastSabTable(data.channel, data.index + 1);
const core = new Core(data.buffer, heap, data.config, sabs, false);
const scheduler = new WorkerScheduler(data.index, core, () => sabs.close());
setWorkerHost(scheduler);
scheduler.start();
