// Shared-state benchmarks: `npm run bench:sync` (build + node dist/bench/sync.js).
// Single-thread costs via tinybench (each task runs a batch of BATCH operations,
// so timer resolution does not swamp ~100 ns operations); multi-thread throughput
// by timing whole runs, repeated. Every figure: median [p25–p75] over samples.
import { Worker } from 'node:worker_threads';
import { Bench } from 'tinybench';
import './node20-shim.js';
import { Mutex as MtMutex } from 'multithreading';
import { SHARED } from '../src/shared/handle.js';
import { SharedHeap, globalHeap } from '../src/shared/heap.js';
import { Mutex, SharedMap } from '../src/sync/index.js';

const BATCH = 1000;
const ROUNDS = Number(process.env['SPINDLE_BENCH_ROUNDS'] ?? 5);

function quantile(sorted: number[], q: number): number {
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (i - lo);
}
function summary(xs: number[], digits = 0): string {
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number): string => x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return `${f(quantile(s, 0.5))} [${f(quantile(s, 0.25))}–${f(quantile(s, 0.75))}]`;
}
const median = (xs: number[]): number => quantile([...xs].sort((a, b) => a - b), 0.5);

async function singleThread(): Promise<void> {
  const bench = new Bench({ time: 400, warmupTime: 100, retainSamples: true });
  const m = new Mutex<number>(0);
  const mt = new MtMutex(new Int32Array(new SharedArrayBuffer(4)));
  const heap = new SharedHeap();
  // The value codec on its own (no contention): what each SharedMap / Mutex value access costs.
  const map = new SharedMap<string, unknown>();
  const mv = new Mutex<unknown>(0);
  const obj = { id: 7, name: 'spindle', tags: ['a', 'b'], ok: true };
  for (let i = 0; i < BATCH; i++) map.set(`key-${i}`, i);
  bench
    .add('spindle Mutex tryLock()+unlock()', () => {
      for (let i = 0; i < BATCH; i++) m.tryLock()!.unlock();
    })
    .add('spindle Mutex await lock()+unlock()', async () => {
      for (let i = 0; i < BATCH; i++) (await m.lock()).unlock();
    })
    .add('multithreading Mutex await lock()+dispose()', async () => {
      for (let i = 0; i < BATCH; i++) (await mt.lock()).dispose();
    })
    .add('multithreading Mutex blockingLock()+dispose()', () => {
      for (let i = 0; i < BATCH; i++) mt.blockingLock().dispose();
    })
    .add('SharedHeap alloc(40)+free()', () => {
      for (let i = 0; i < BATCH; i++) heap.free(heap.alloc(40));
    })
    .add('SharedMap get(k), number value', () => {
      for (let i = 0; i < BATCH; i++) map.get(`key-${i}`);
    })
    .add('SharedMap set(k, number)', () => {
      for (let i = 0; i < BATCH; i++) map.set(`key-${i}`, i);
    })
    .add('SharedMap set(k, string)+get(k)', () => {
      for (let i = 0; i < BATCH; i++) {
        map.set('s', 'hello, shared world');
        map.get('s');
      }
    })
    .add('SharedMap set(k, object)+get(k)', () => {
      for (let i = 0; i < BATCH; i++) {
        map.set('o', obj);
        map.get('o');
      }
    })
    .add('Mutex tryLock(), guard.value += 1, unlock()', () => {
      for (let i = 0; i < BATCH; i++) {
        const g = mv.tryLock()!;
        g.value = (g.value as number) + 1;
        g.unlock();
      }
    });
  await bench.run();
  console.log(`\nUncontended, main thread (ns per operation; median [p25–p75] of ${BATCH}-op batches):`);
  for (const t of bench.tasks) {
    const r = t.result;
    if (r === undefined || !('latency' in r) || r.latency.samples === undefined) throw new Error(`${t.name}: no samples`);
    const ns = r.latency.samples.map((ms: number) => (ms * 1e6) / BATCH);
    console.log(`  ${t.name.padEnd(48)} ${summary(ns, 1)} ns`);
  }
}

/** Runs `threads` workers doing `op` `ops` times each, started together; returns ops/s. */
async function contend(op: string, threads: number, ops: number, extra: Partial<Record<string, unknown>> = {}, serve?: (w: Worker) => void): Promise<number> {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const workers = Array.from({ length: threads }, () =>
    new Worker(new URL('./sync-worker.js', import.meta.url), { workerData: { op, ops, heap: globalHeap().buffer, counter, go, ...extra } }),
  );
  await Promise.all(workers.map((w) => new Promise((r) => w.once('online', r))));
  const done = workers.map((w) => new Promise<void>((resolve, reject) => {
    w.on('message', (msg) => { if (msg === 'done') resolve(); });
    w.once('error', reject);
  }));
  for (const w of workers) serve?.(w);
  const t0 = performance.now();
  Atomics.store(go, 0, 1);
  Atomics.notify(go, 0);
  await Promise.all(done);
  const secs = (performance.now() - t0) / 1000;
  await Promise.all(workers.map((w) => w.terminate()));
  if (op.endsWith('utex') || op === 'spindleMutexValue' || op === 'unfairFutex') {
    // Sanity: the lock really excluded (the Value variant counts in the Mutex).
    if (op !== 'spindleMutexValue' && Atomics.load(counter, 0) !== threads * ops) throw new Error(`${op}: lost updates (${Atomics.load(counter, 0)})`);
  }
  return (threads * ops) / secs;
}

/** Main-thread side of the message-passing mutex: FIFO grant queue. */
function messageMutexServer(): (w: Worker) => void {
  let held = false;
  const queue: Worker[] = [];
  const grant = (): void => {
    const next = queue.shift();
    if (next === undefined) { held = false; return; }
    held = true;
    next.postMessage('granted');
  };
  return (w) => w.on('message', (msg) => {
    if (msg === 'lock') { queue.push(w); if (!held) grant(); }
    else if (msg === 'unlock') grant();
  });
}

/** Main-thread side of the message map: a Map reached by request/response. */
function messageMapServer(): (w: Worker) => void {
  const map = new Map<string, unknown>();
  return (w) => w.on('message', (msg: { op: string; key: string; value?: unknown } | string) => {
    if (typeof msg === 'string') return;
    if (msg.op === 'set') { map.set(msg.key, msg.value); w.postMessage(true); }
    else w.postMessage(map.get(msg.key));
  });
}

async function rounds(f: () => Promise<number>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < ROUNDS; i++) out.push(await f());
  return out;
}

async function multiThread(): Promise<void> {
  console.log(`\nContended Mutex, each thread: lock, counter++, unlock (ops/s over all threads; median [p25–p75] of ${ROUNDS} runs):`);
  const sp = new Mutex<undefined>(undefined);
  const spv = new Mutex<number>(0);
  const spRef = { kind: 'Mutex', offset: sp[SHARED]().offset };
  const spvRef = { kind: 'Mutex', offset: spv[SHARED]().offset };
  const word = { kind: 'word', offset: globalHeap().alloc(8) };
  Atomics.store(globalHeap().i32, word.offset >> 2, 0);
  const alone = new Worker(new URL('./sync-worker.js', import.meta.url), {
    workerData: { op: 'uncontendedLockSync', ops: 100_000, heap: globalHeap().buffer, handle: spRef, counter: new Int32Array(4), go: new Int32Array(4) },
  });
  const perBatch = await new Promise<number[]>((resolve) => alone.once('message', resolve));
  await alone.terminate();
  console.log(`  1 thread   spindle Mutex lockSync()+unlock() uncontended, timed in the worker: ${summary(perBatch, 1)} ns per pair (20 batches of 100,000)`);
  for (const threads of [2, 4]) {
    const ops = 50_000;
    const rows: Array<[string, number[]]> = [
      ['spindle Mutex lockSync()', await rounds(() => contend('spindleMutex', threads, ops, { handle: spRef }))],
      ['unfair futex word (same loop, no FIFO)', await rounds(() => contend('unfairFutex', threads, ops, { handle: word }))],
      ['spindle Mutex lockSync(), guard.value += 1', await rounds(() => contend('spindleMutexValue', threads, ops, { handle: spvRef }))],
      ['multithreading Mutex blockingLock()', await rounds(() => contend('multithreadingMutex', threads, ops, { mtLock: new SharedArrayBuffer(4) }))],
      ['postMessage mutex (FIFO server on main)', await rounds(() => contend('messageMutex', threads, ops / 10, {}, messageMutexServer()))],
    ];
    for (const [name, xs] of rows) console.log(`  ${threads} threads  ${name.padEnd(44)} ${summary(xs)} ops/s`);
  }

  console.log(`\nShared map, 2 threads, 50% get / 50% set over 1,000 keys (ops/s; median [p25–p75] of ${ROUNDS} runs):`);
  const map = new SharedMap<string, number>();
  const mapRef = { kind: 'SharedMap', offset: map[SHARED]().offset };
  const shared = await rounds(() => contend('sharedMap', 2, 200_000, { handle: mapRef }));
  const messages = await rounds(() => contend('messageMap', 2, 10_000, {}, messageMapServer()));
  console.log(`  SharedMap (sharded, in shared memory)         ${summary(shared)} ops/s`);
  console.log(`  Map on the main thread, reached by messages   ${summary(messages)} ops/s`);
  console.log(`  ratio (medians)                               ${(median(shared) / median(messages)).toFixed(1)}x`);
}

console.log(`spindle shared-state bench — node ${process.version}, ${(await import('node:os')).cpus().length} CPUs`);
console.log('command: npm run bench:sync   (= npm run build && node dist/bench/sync.js)');
await singleThread();
await multiThread();
