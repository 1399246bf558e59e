// Channel benchmarks: `npm run bench:channels` (build + node dist/bench/channels.js).
//
// One-way streams (messages/s) and round trips (µs), spindle's channels against
// a MessagePort and the `multithreading` package's channel, all in one run.
// Each figure is the median of ROUNDS runs [min–max]; every run uses fresh
// channels and (for the plain-thread rows) fresh worker threads, which run the
// stream code paths for a while before the timed part (channels-worker.ts,
// warmStreams), and every stream sends STREAM_WARM messages before the timed
// ones, so that a stream's figure is a steady state.
//
// Environment: SPINDLE_BENCH_ROUNDS (default 5), SPINDLE_BENCH_N (timed
// messages per stream, default 300000; objects and multithreading use fewer),
// SPINDLE_BENCH_WARM (untimed ones before them, default 200000), and
// SPINDLE_BENCH_ONLY (a substring of the row names to run).
import { availableParallelism, loadavg } from 'node:os';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import './node20-shim.js';
import './node20-shim-channels.js';
import { channel as mtChannel, move as mtMove, shutdown as mtShutdown, spawn as mtSpawn } from 'multithreading';
import { Runtime, globalHeap, mpsc, oneshot } from '../src/index.js';
import { SHARED, type SharedHandle } from '../src/shared/handle.js';
import { endpointPair, releaseProxy, spawnActor, wrap } from '../src/comlink.js';
import { nodeEndpoint, streamClock, type ValueKind } from './channel-values.js';
import { benchEcho, benchProduce, makeBenchCounter } from './channel-tasks.js';

const ROUNDS = Number(process.env['SPINDLE_BENCH_ROUNDS'] ?? 5);
const N = Number(process.env['SPINDLE_BENCH_N'] ?? 300_000);
const ONLY = process.env['SPINDLE_BENCH_ONLY'];
const RT = 3000;
/**
 * Round trips before the timed ones, on every implementation alike, for WARM_MS: each round
 * starts a fresh worker, and the code on both sides (comlink, the codec) must reach V8's
 * optimizing tiers before the figure says anything about a server that has been up a while.
 */
const WARM_MS = 500;

/** Calls `one` for WARM_MS (at least 200 times). */
async function warm(one: (i: number) => Promise<unknown>): Promise<void> {
  const end = performance.now() + WARM_MS;
  for (let i = 0; i < 200 || performance.now() < end; i++) await one(i);
}
const CAP = 1024;
/**
 * Messages each stream sends before the timed ones, through the same channel
 * or port, every implementation alike: the clock starts when the consumer
 * has received them. A fresh worker's first 100,000 or so spindle messages
 * run at a third of the speed of the rest (V8's tiers catching up on this
 * very loop: the local warm-up in channels-worker.ts does not reach the
 * cross-thread paths), and a stream of N messages would be mostly that.
 * SPINDLE_BENCH_WARM overrides it (at least 1); objects and the
 * multithreading package use a third and a tenth of it, as of N.
 */
const STREAM_WARM = Math.max(1, Number(process.env['SPINDLE_BENCH_WARM'] ?? 200_000));

const WORKER = new URL('./channels-worker.js', import.meta.url);

interface Started {
  w: Worker;
  ready: Promise<void>;
  done: Promise<unknown>;
  go: () => void;
}

/** Starts a bench worker running `op`; resolves `ready` when it says so; `go()` releases it. */
function start(op: string, extra: Record<string, unknown> = {}, transfer: MessagePort[] = []): Started {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const w = new Worker(WORKER, { workerData: { op, heap: globalHeap().buffer, go, ...extra }, transferList: transfer as never });
  let onReady!: () => void;
  let onDone!: (v: unknown) => void;
  const ready = new Promise<void>((r) => (onReady = r));
  const done = new Promise<unknown>((r) => (onDone = r));
  w.on('message', (m) => (m === 'ready' ? onReady() : onDone(m)));
  w.on('error', (e) => {
    console.error(`worker ${op} failed:`, e);
    process.exit(1);
  });
  return {
    w,
    ready,
    done,
    go: () => {
      Atomics.store(go, 0, 1);
      Atomics.notify(go, 0);
    },
  };
}

function sent(h: SharedHandle): { kind: string; offset: number } {
  const r = h[SHARED]();
  r.commit?.();
  return { kind: r.kind, offset: r.offset };
}

// ───────────────────────── one-way streams (messages/s) ─────────────────────────

async function portWorkerToMain(kind: ValueKind, n: number, warm: number): Promise<number> {
  const s = start('portProduce', { n, warm, kind });
  const c = streamClock(warm, n);
  const all = new Promise<void>((resolve) => {
    s.w.on('message', (m) => {
      if (m === 'ready') return;
      c.tick();
      if (c.done()) resolve();
    });
  });
  await s.ready;
  s.go();
  await all;
  await s.w.terminate();
  return c.rate();
}

/** A consuming worker's report: the timed part's milliseconds, or what went wrong. */
function rateFrom(r: unknown, n: number, what: string): number {
  if (typeof r !== 'number') throw new Error(`${what}: ${String(r)}`);
  return (n / r) * 1000;
}

async function portWorkerToWorker(kind: ValueKind, n: number, warm: number): Promise<number> {
  const { port1, port2 } = new MessageChannel();
  const c = start('portConsume', { n, warm, kind, port: port2 }, [port2]);
  const p = start('portProduce', { n, warm, kind, port: port1 }, [port1]);
  await Promise.all([c.ready, p.ready]);
  p.go();
  const r = await c.done;
  await Promise.all([c.w.terminate(), p.w.terminate()]);
  return rateFrom(r, n, 'MessagePort worker→worker');
}

async function spindleWorkerToMain(kind: ValueKind, n: number, warm: number, cap: number, op = 'spindleProduce'): Promise<number> {
  const [tx, rx] = cap === 0 ? mpsc.unbounded<unknown>() : mpsc.channel<unknown>(cap);
  const p = start(op, { n, warm, kind, handle: sent(tx) });
  await p.ready;
  p.go();
  const c = streamClock(warm, n);
  for await (const _ of rx) c.tick();
  rx.drop();
  if (!c.done()) throw new Error(`spindle lost messages: ${c.timed()} of ${n}`);
  await p.w.terminate();
  return c.rate();
}

async function spindleWorkerToWorker(kind: ValueKind, n: number, warm: number, cap: number, op = 'spindleProduce'): Promise<number> {
  const [tx, rx] = mpsc.channel<unknown>(cap);
  const c = start('spindleConsume', { n, warm, kind, handle: sent(rx) });
  const p = start(op, { n, warm, kind, handle: sent(tx) });
  await Promise.all([c.ready, p.ready]);
  p.go();
  const r = await c.done;
  await Promise.all([c.w.terminate(), p.w.terminate()]);
  return rateFrom(r, n, 'spindle worker→worker');
}

let rt: Runtime | undefined;
const runtime = (): Runtime => (rt ??= new Runtime({ workers: 2 }));

async function spindleTaskToMain(kind: ValueKind, n: number, warm: number, cap: number): Promise<number> {
  const [tx, rx] = mpsc.channel<unknown>(cap);
  const h = runtime().spawn(benchProduce, tx, kind, warm + n);
  const c = streamClock(warm, n);
  for await (const _ of rx) c.tick();
  await h;
  rx.drop();
  if (!c.done()) throw new Error(`spindle task lost messages: ${c.timed()} of ${n}`);
  return c.rate();
}

async function mtWorkerToMain(kind: ValueKind, n: number, warm: number): Promise<number> {
  const [tx, rx] = mtChannel<unknown>(CAP, { size: 8 << 20 });
  const h = mtSpawn(mtMove(tx, kind, warm + n), async (tx, kind, n) => {
    const make = (i: number): unknown => (kind === 'number' ? i : kind === 'string' ? `message ${i}` : { id: i, name: 'item', tags: ['a', 'b'], score: i / 2 });
    for (let i = 0; i < n; i++) await tx.send(make(i));
    tx[Symbol.dispose]();
  });
  const c = streamClock(warm, n);
  for await (const _ of rx) c.tick();
  await h.join();
  if (!c.done()) throw new Error(`multithreading lost messages: ${c.timed()} of ${n}`);
  return c.rate();
}

// ───────────────────────── round trips (µs) ─────────────────────────

async function portRoundTrip(): Promise<number> {
  const s = start('portEcho');
  await s.ready;
  let resolve: (v: unknown) => void = () => {};
  s.w.on('message', (m) => resolve(m));
  const one = (i: number): Promise<unknown> =>
    new Promise((r) => {
      resolve = r;
      s.w.postMessage(i);
    });
  await warm(one);
  const t0 = performance.now();
  for (let i = 0; i < RT; i++) await one(i);
  const us = ((performance.now() - t0) / RT) * 1000;
  await s.w.terminate();
  return us;
}

async function joinHandleRoundTrip(): Promise<number> {
  const r = runtime();
  await warm((i) => r.spawn(benchEcho, i));
  const t0 = performance.now();
  for (let i = 0; i < RT; i++) await r.spawn(benchEcho, i);
  return ((performance.now() - t0) / RT) * 1000;
}

/**
 * The oneshot rows' server: one worker for every round, as the JoinHandle rows share one
 * runtime, so that both compare servers that have been up a while.
 */
let oneshotServer: { tx: mpsc.Sender<[number, oneshot.Sender<number>]>; s: Started } | undefined;

async function oneshotRoundTrip(): Promise<number> {
  if (oneshotServer === undefined) {
    const [tx, rx] = mpsc.channel<[number, oneshot.Sender<number>]>(64);
    const s = start('spindleOneshotServer', { handle: sent(rx) });
    await s.ready;
    oneshotServer = { tx, s };
  }
  const tx = oneshotServer.tx;
  const one = async (i: number): Promise<void> => {
    const [otx, orx] = oneshot<number>();
    await tx.send([i, otx]);
    if ((await orx) !== i + 1) throw new Error('oneshot: wrong reply');
  };
  await warm(one);
  const t0 = performance.now();
  for (let i = 0; i < RT; i++) await one(i);
  return ((performance.now() - t0) / RT) * 1000;
}

async function stopOneshotServer(): Promise<void> {
  if (oneshotServer === undefined) return;
  oneshotServer.tx.drop();
  await oneshotServer.s.w.terminate();
  oneshotServer = undefined;
}

interface Counter {
  n: number;
  add(k: number): number;
}

async function comlinkCalls(remote: { add(k: number): Promise<number> }): Promise<number> {
  await warm(() => remote.add(1));
  const t0 = performance.now();
  for (let i = 0; i < RT; i++) await remote.add(1);
  return ((performance.now() - t0) / RT) * 1000;
}

async function comlinkPortRoundTrip(): Promise<number> {
  const s = start('comlinkPort');
  await s.ready;
  const remote = wrap<Counter>(nodeEndpoint(s.w) as never);
  const us = await comlinkCalls(remote);
  await s.w.terminate();
  return us;
}

async function comlinkSpindleRoundTrip(): Promise<number> {
  const [here, there] = endpointPair();
  const s = start('comlinkSpindle', { handle: sent(there) });
  await s.ready;
  const remote = wrap<Counter>(here);
  const us = await comlinkCalls(remote);
  remote[releaseProxy]();
  await s.w.terminate();
  return us;
}

async function spawnActorRoundTrip(): Promise<number> {
  runtime();
  const remote = spawnActor(makeBenchCounter);
  const us = await comlinkCalls(remote);
  remote[releaseProxy]();
  return us;
}

// ───────────────────────── driver ─────────────────────────

interface Row {
  group: string;
  name: string;
  unit: 'msgs/s' | 'µs';
  samples: number[];
  base?: string;
}
const rows: Row[] = [];

async function measure(group: string, name: string, unit: Row['unit'], run: () => Promise<number>, base?: string): Promise<void> {
  await measureInterleaved(group, unit, [{ name, run, base }]);
}

/**
 * Rows compared with each other, their rounds interleaved (A B A B …): this machine drifts
 * between a fast and a slow state for seconds at a time, which would otherwise land on one row.
 */
async function measureInterleaved(group: string, unit: Row['unit'], entries: { name: string; run: () => Promise<number>; base?: string }[]): Promise<void> {
  const chosen = entries.filter((e) => ONLY === undefined || `${group} ${e.name}`.includes(ONLY));
  const samples = chosen.map((): number[] => []);
  for (let r = 0; r < ROUNDS; r++) for (let k = 0; k < chosen.length; k++) samples[k]!.push(await chosen[k]!.run());
  for (let k = 0; k < chosen.length; k++) {
    const { name, base } = chosen[k]!;
    rows.push({ group, name, unit, samples: samples[k]!, base });
    const s = [...samples[k]!].sort((a, b) => a - b);
    process.stderr.write(`  ${group} | ${name}: ${fmt(median(s), unit)} [${fmt(s[0]!, unit)}–${fmt(s[s.length - 1]!, unit)}]\n`);
  }
}

function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

function fmt(x: number, unit: Row['unit']): string {
  return unit === 'msgs/s' ? `${(x / 1000).toLocaleString('en-US', { maximumFractionDigits: 0 })}k` : x.toFixed(1);
}

async function main(): Promise<void> {
  const before = loadavg()[0]!;
  console.log(`Channel benchmarks: Node ${process.version}, ${availableParallelism()} CPUs, load average ${before.toFixed(2)} at start; ${ROUNDS} rounds, median [min–max].\n`);
  // [kind, timed messages, untimed ones before them]
  const kinds: [ValueKind, number, number][] = [
    ['number', N, STREAM_WARM],
    ['string', N, STREAM_WARM],
    ['object', Math.floor(N / 3), Math.max(1, Math.floor(STREAM_WARM / 3))],
  ];
  for (const [kind, n, w] of kinds) {
    const g = `worker→main, ${kind}s`;
    await measure(g, 'MessagePort', 'msgs/s', () => portWorkerToMain(kind, n, w));
    await measure(g, `spindle mpsc(${CAP}), await send`, 'msgs/s', () => spindleWorkerToMain(kind, n, w, CAP), 'MessagePort');
    await measure(g, `spindle mpsc(${CAP}), sendSync`, 'msgs/s', () => spindleWorkerToMain(kind, n, w, CAP, 'spindleProduceSync'), 'MessagePort');
    await measure(g, 'spindle mpsc unbounded, await send', 'msgs/s', () => spindleWorkerToMain(kind, n, w, 0), 'MessagePort');
    await measure(g, `spindle mpsc(${CAP}), from a runtime task`, 'msgs/s', () => spindleTaskToMain(kind, n, w, CAP), 'MessagePort');
    await measure(g, `multithreading channel(${CAP})`, 'msgs/s', () => mtWorkerToMain(kind, Math.min(n, 30_000), Math.max(1, Math.floor(w / 10))), 'MessagePort');
  }
  for (const [kind, n, w] of kinds) {
    const g = `worker→worker, ${kind}s`;
    await measure(g, 'MessagePort', 'msgs/s', () => portWorkerToWorker(kind, n, w));
    await measure(g, `spindle mpsc(${CAP}), await send`, 'msgs/s', () => spindleWorkerToWorker(kind, n, w, CAP), 'MessagePort');
    await measure(g, `spindle mpsc(${CAP}), sendSync`, 'msgs/s', () => spindleWorkerToWorker(kind, n, w, CAP, 'spindleProduceSync'), 'MessagePort');
  }
  await measure('round trip', 'MessagePort ping-pong', 'µs', portRoundTrip);
  await measureInterleaved('round trip', 'µs', [
    { name: 'JoinHandle: await spawn(echo)', run: joinHandleRoundTrip },
    { name: 'oneshot: request over mpsc, reply on a oneshot', run: oneshotRoundTrip, base: 'JoinHandle: await spawn(echo)' },
  ]);
  await stopOneshotServer();
  await measure('round trip', 'comlink over a MessagePort', 'µs', comlinkPortRoundTrip);
  await measure('round trip', 'comlink over a spindle endpoint', 'µs', comlinkSpindleRoundTrip, 'comlink over a MessagePort');
  await measure('round trip', 'comlink, spawnActor (runtime task)', 'µs', spawnActorRoundTrip, 'comlink over a MessagePort');
  await rt?.shutdown();
  mtShutdown();

  console.log('| scenario | implementation | median | [min–max] | vs |');
  console.log('| --- | --- | ---: | ---: | ---: |');
  for (const r of rows) {
    const s = [...r.samples].sort((a, b) => a - b);
    const m = median(s);
    let vs = '';
    if (r.base !== undefined) {
      const b = rows.find((x) => x.group === r.group && x.name === r.base);
      if (b !== undefined) {
        const bm = median([...b.samples].sort((x, y) => x - y));
        vs =
          r.unit === 'msgs/s'
            ? `${(m / bm).toFixed(2)}× ${r.base}`
            : m <= bm
              ? `${(bm / m).toFixed(2)}× faster than ${r.base}`
              : `${(m / bm).toFixed(2)}× slower than ${r.base}`;
      }
    }
    console.log(`| ${r.group} | ${r.name} | ${fmt(m, r.unit)} ${r.unit} | ${fmt(s[0]!, r.unit)}–${fmt(s[s.length - 1]!, r.unit)} | ${vs} |`);
  }
  console.log(`\nLoad average ${before.toFixed(2)} at start, ${loadavg()[0]!.toFixed(2)} at the end.`);
}

await main();
