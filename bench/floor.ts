/**
 * The main thread's floor for tiny tasks: what giving each of 100,000 tasks a
 * promise and settling it costs with no worker, no shared memory and no
 * runtime at all. Any pool whose `run` returns a promise per task pays at
 * least this on its main thread, so `1e9 / ns` is a ceiling on its tiny
 * tasks/s however fast the rest is (issue 10's 1 M tasks/s target is read
 * against it).
 *
 *   npm run bench:floor
 *   SPINDLE_BENCH_ONLY=joinAll npm run bench:floor   (rows whose name has the substring)
 *
 * Each round creates 100,000 handles in one synchronous loop (as the tiny
 * scenario submits), then settles them 2,000 per event-loop turn (as
 * completions are drained) while the awaiting side waits. Rounds of every
 * row are interleaved; the figure is the median ns per task [min–max].
 *
 * Then the same for a worker: the cost of one fork-join task on a runtime of
 * one worker, with the work taken out (fib(27) with leaves n ≤ 2: every task
 * spawns one child and awaits it), which is what keeps the fork-join
 * scenario from 1.00 of the sequential function; beside it, the same
 * recursion as plain async functions on that worker (no runtime at all):
 * what two awaits per node cost whatever runs them.
 */
import { availableParallelism, loadavg } from 'node:os';
import { JoinHandle, joinAll, type HandleHost } from '../src/join.js';
import { Runtime } from '../src/runtime.js';
import { median } from './measure.js';
import { fibAsyncFloor, fibPar } from './spindle-tasks.js';

const N = 100_000;
const BATCH = 2000;
const ROUNDS = Number(process.env['SPINDLE_BENCH_ROUNDS'] ?? 9);
const ONLY = process.env['SPINDLE_BENCH_ONLY'];

/** Settles `settle(i)` for every i, BATCH per setImmediate turn. */
function drain(settle: (i: number) => void): Promise<void> {
  return new Promise((done) => {
    let i = 0;
    const step = (): void => {
      const end = Math.min(N, i + BATCH);
      for (; i < end; i++) settle(i);
      if (i < N) setImmediate(step);
      else done();
    };
    setImmediate(step);
  });
}

const host: HandleHost = { abort() {}, join() {}, unobserved() {}, observed() {} };

/** One row: a round makes N handles, settles them BATCH per turn and awaits them all. */
interface Row {
  name: string;
  round(): Promise<void>;
}

const rows: Row[] = [
  {
    name: 'no promise: a callback per task (the loop alone)',
    async round() {
      const out = new Array<number>(N);
      let left = N;
      let done!: () => void;
      const all = new Promise<void>((r) => (done = r));
      const cbs = new Array<(v: number) => void>(N);
      for (let i = 0; i < N; i++) cbs[i] = (v) => ((out[i] = v), --left === 0 && done());
      await drain((i) => cbs[i]!(i));
      await all;
    },
  },
  {
    name: '`new Promise` per task, `Promise.all`',
    async round() {
      const res = new Array<(v: number) => void>(N);
      const ps = new Array<Promise<number>>(N);
      for (let i = 0; i < N; i++) ps[i] = new Promise<number>((r) => (res[i] = r));
      const all = Promise.all(ps);
      await drain((i) => res[i]!(i));
      await all;
    },
  },
  {
    name: 'spindle `JoinHandle` per task, `Promise.all`',
    async round() {
      const hs = new Array<JoinHandle<number>>(N);
      for (let i = 0; i < N; i++) hs[i] = new JoinHandle<number>(i, host);
      const all = Promise.all(hs);
      await drain((i) => hs[i]!._ok(i));
      await all;
    },
  },
  {
    name: 'spindle `JoinHandle` per task, `joinAll`',
    async round() {
      const hs = new Array<JoinHandle<number>>(N);
      for (let i = 0; i < N; i++) hs[i] = new JoinHandle<number>(i, host);
      const all = joinAll(hs);
      await drain((i) => hs[i]!._ok(i));
      await all;
    },
  },
];

const chosen = rows.filter((r) => ONLY === undefined || r.name.includes(ONLY));
const ns = new Map<string, number[]>(chosen.map((r) => [r.name, []]));
for (const r of chosen) await r.round(); // warm every row's code once
for (let k = 0; k < ROUNDS; k++) {
  for (const r of chosen) {
    const t0 = process.hrtime.bigint();
    await r.round();
    ns.get(r.name)!.push(Number(process.hrtime.bigint() - t0) / N);
  }
}

const load = loadavg()[0]!.toFixed(2);
console.log(`Main-thread floor per tiny task: ${N.toLocaleString('en-US')} handles made in one loop, settled ${BATCH.toLocaleString('en-US')} per turn; ${ROUNDS} interleaved rounds, median [min–max]. Node ${process.versions.node}, ${availableParallelism()} CPUs, 1-min load ${load}.`);
console.log('');
console.log('| per task | ns | ceiling, tasks/s |');
console.log('| --- | ---: | ---: |');
for (const [name, xs] of ns) {
  const m = median(xs);
  console.log(`| ${name} | ${m.toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}] | ${(1e9 / m / 1e6).toFixed(2)}M |`);
}

// Fork-join on one worker, with (almost) no work per task.
const FJ_N = 27;
const FJ_CUTOFF = 2;
const nodes = (k: number): number => (k <= FJ_CUTOFF ? 0 : 1 + nodes(k - 1) + nodes(k - 2));
const tasks = nodes(FJ_N);
const rt = new Runtime({ workers: 1 });
await rt.spawn(fibPar, 22, FJ_CUTOFF);
await rt.spawn(fibAsyncFloor, 22, FJ_CUTOFF);
const fj: number[] = [];
const plain: number[] = [];
for (let k = 0; k < ROUNDS; k++) {
  const t0 = process.hrtime.bigint();
  await rt.spawn(fibPar, FJ_N, FJ_CUTOFF);
  fj.push(Number(process.hrtime.bigint() - t0) / tasks);
  plain.push((await rt.spawn(fibAsyncFloor, FJ_N, FJ_CUTOFF)) / tasks);
}
await rt.shutdown();
const row = (xs: number[]): string => `${median(xs).toFixed(0)} [${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)}] | ${(1e9 / median(xs) / 1e6).toFixed(2)}M`;
console.log('');
console.log('| per task, on a worker | ns | ceiling, tasks/s |');
console.log('| --- | ---: | ---: |');
console.log(`| fork-join on 1 worker: fib(${FJ_N}), leaves n ≤ ${FJ_CUTOFF}, ${tasks.toLocaleString('en-US')} tasks (spawn a child, compute the other half, await the child) | ${row(fj)} |`);
console.log(`| the same recursion as plain async functions on that worker, each half awaited in turn (no runtime, no handle): the floor of a task body with two awaits | ${row(plain)} |`);
console.log('');
console.log('Reproduce: `npm run bench:floor`');
