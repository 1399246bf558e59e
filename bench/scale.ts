/**
 * Scaling: the same fork-join fib and the same CPU-bound batch on 1, 2, 4, …
 * workers, in one run, against the sequential function. Where work stealing
 * shows on a machine with many cores.
 *
 *   npm run bench:scale                  (workers 1,2,4,… up to the CPU count)
 *   npm run bench:scale -- 1,2,4,8,16    (a list)
 */
import { availableParallelism } from 'node:os';
import { Runtime } from '../src/index.js';
import { fibPar, spin } from './spindle-tasks.js';
import { fib } from './tasks.js';
import { calibrateSpin } from './workload.js';

const cpus = availableParallelism();
const counts = process.argv[2]?.split(',').map(Number) ?? [1, 2, 4, 8, 16, 32].filter((n) => n <= Math.max(cpus, 2));
const N = 37;
const CUTOFF = 14;
const ROUNDS = 5;
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

async function time(f: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await f();
    out.push(performance.now() - t);
  }
  return out;
}

const perMs = calibrateSpin();
const jobs = 400;
const seqFib = median(await time(() => fib(N)));
const seqCpu = median(await time(() => { for (let i = 0; i < jobs; i++) spin(perMs); }));

console.log(`# spindle scaling on ${cpus} CPUs (Node ${process.version})\n`);
console.log(`Reproduce: npm run bench:scale -- ${counts.join(',')}\n`);
console.log(`fork-join: fib(${N}) with sequential leaves at n ≤ ${CUTOFF}; CPU: ${jobs} tasks of ~1 ms. Median of ${ROUNDS} rounds; efficiency = sequential / (workers × parallel).\n`);
console.log('| workers | fib ms | fib speedup | fib efficiency | cpu ms | cpu speedup | steals | parks |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const w of counts) {
  const rt = new Runtime({ workers: w });
  await rt.spawn(fibPar, 25, 10); // start the workers, load the module, warm the JIT
  const f = median(await time(() => rt.spawn(fibPar, N, CUTOFF)));
  const c = median(await time(() => Promise.all(Array.from({ length: jobs }, () => rt.spawn(spin, perMs)))));
  const m = rt.metrics().workers;
  await rt.shutdown();
  const steals = m.reduce((s, x) => s + x.steals, 0);
  const parks = m.reduce((s, x) => s + x.parks, 0);
  console.log(
    `| ${w} | ${f.toFixed(0)} | ${(seqFib / f).toFixed(2)} | ${(seqFib / f / w).toFixed(2)} | ${c.toFixed(0)} | ${(seqCpu / c).toFixed(2)} | ${steals} | ${parks} |`,
  );
}
console.log(`\nsequential: fib ${seqFib.toFixed(0)} ms, cpu ${seqCpu.toFixed(0)} ms`);
