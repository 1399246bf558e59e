// Worker side of bench/sync.ts: one contender in a contended-lock or shared-map run.
import { parentPort, workerData } from 'node:worker_threads';
import './node20-shim.js';
import { Mutex as MtMutex } from 'multithreading';
import { lockWord, unlockWord } from './futex-word.js';
import { reviverFor } from '../src/shared/handle.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import type { Mutex, SharedMap } from '../src/sync/index.js';
import '../src/sync/index.js';

interface Job {
  op: string;
  ops: number;
  heap: SharedArrayBuffer;
  handle?: { kind: string; offset: number };
  counter: Int32Array;
  go: Int32Array;
  mtLock?: SharedArrayBuffer;
}
const job = workerData as Job;
const heap = SharedHeap.fromBuffer(job.heap);
setGlobalHeap(heap);
const port = parentPort!;

function waitGo(): void {
  while (Atomics.load(job.go, 0) === 0) Atomics.wait(job.go, 0, 0, 1000);
}

/** A request/response over the port to the main thread (the message-passing baselines). */
let pending: ((v: unknown) => void) | undefined;
port.on('message', (m: unknown) => {
  const p = pending;
  pending = undefined;
  p?.(m);
});
function ask(m: unknown): Promise<unknown> {
  return new Promise((resolve) => {
    pending = resolve;
    port.postMessage(m);
  });
}

const c = job.counter;
const runs: Record<string, () => void | Promise<void>> = {
  spindleMutex() {
    const m = reviverFor('Mutex')(heap, job.handle!.offset) as Mutex;
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      const g = m.lockSync();
      c[0] = c[0]! + 1; // plain read-modify-write: only correct under the lock
      g.unlock();
    }
  },
  /** Uncontended lockSync()+unlock(), timed inside the worker: ns per pair for each of 20 batches. */
  uncontendedLockSync() {
    const m = reviverFor('Mutex')(heap, job.handle!.offset) as Mutex;
    const perBatch: number[] = [];
    for (let r = 0; r < 20; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < job.ops; i++) m.lockSync().unlock();
      perBatch.push(Number(process.hrtime.bigint() - t0) / job.ops);
    }
    port.postMessage(perBatch);
  },
  /** The same loop on an unfair futex word (bench/futex-word.ts): what FIFO hand-off costs. */
  unfairFutex() {
    const i32 = heap.i32;
    const word = job.handle!.offset >> 2;
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      lockWord(i32, word);
      c[0] = c[0]! + 1;
      unlockWord(i32, word);
    }
  },
  spindleMutexValue() {
    const m = reviverFor('Mutex')(heap, job.handle!.offset) as Mutex<number>;
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      const g = m.lockSync();
      g.value = g.value + 1;
      g.unlock();
    }
  },
  multithreadingMutex() {
    const m = new MtMutex(c, job.mtLock!);
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      const g = m.blockingLock();
      g.value[0]!++;
      g.dispose();
    }
  },
  async messageMutex() {
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      await ask('lock');
      c[0] = c[0]! + 1;
      port.postMessage('unlock');
    }
  },
  sharedMap() {
    const map = reviverFor('SharedMap')(heap, job.handle!.offset) as SharedMap<string, number>;
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      const key = `key-${i % 1000}`;
      if (i & 1) map.set(key, i);
      else map.get(key);
    }
  },
  async messageMap() {
    waitGo();
    for (let i = 0; i < job.ops; i++) {
      const key = `key-${i % 1000}`;
      await ask(i & 1 ? { op: 'set', key, value: i } : { op: 'get', key });
    }
  },
};

await runs[job.op]!();
port.postMessage('done');
port.close();
