/**
 * `npm run bench:scale [-- 1,2,4,8,16] [--quick] [--cpu-jobs N] [--rounds R]`
 *
 * The scaling table in one run: per worker count, tiny tasks/s,
 * round-trip p50/p99, CPU and skewed speedups and fork-join efficiency, for
 * spindle with piscina and the machine ceiling beside it. The scenarios are
 * the suite's (bench/scenarios); what is added here is the loop over worker
 * counts and the interleaving of the sequential rounds with the parallel ones
 * (scenarios/interleaved.ts). Markdown on stdout, progress on stderr; the
 * report is also written under bench/results/ (scale-options.ts says which file).
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import type { Adapter } from './adapter.js';
import { OneThreadAdapter } from './adapters/one-thread.js';
import { SpindleAdapter } from './adapters/spindle.js';
import { startNoiseMeter } from './noise.js';
import { progress } from './progress.js';
import type { Cell } from './results.js';
import { parseScaleOptions } from './scale-options.js';
import { renderScale, type Pool, type ScaleRow } from './scale-report.js';
import { interleavedRounds, oneLine } from './scenarios/interleaved.js';
import { roundTrip } from './scenarios/latency.js';
import { tinyThroughput } from './scenarios/throughput.js';
import { warmUp } from './warmup.js';
import { calibrateSpin, fibValue, forkJoinTasks, skewedJobs, uniformJobs } from './workload.js';

const started = performance.now();
const opts = parseScaleOptions(process.argv.slice(2), os.availableParallelism());
const bar = progress(opts.counts.length * (3 + opts.rounds));

const spinPerMs = calibrateSpin();
const plan = {
  rounds: opts.rounds,
  jobs: { cpu: uniformJobs(opts.cpuJobs, spinPerMs), skewed: skewedJobs(opts.cpuJobs, spinPerMs) },
  spinPerMs,
  fib: { n: opts.fibN, cutoff: opts.fibCutoff, expected: fibValue(opts.fibN) },
};
const sequential = new OneThreadAdapter();
await warmUp(sequential, spinPerMs);
/** Skipped and failed cells say only that; the errors themselves are listed once, under the table. */
const notes: string[] = [];
const note = (line: string): void => {
  notes.push(line);
  bar.note(`  ${line}`);
};

// piscina is imported here rather than statically so that a missing or broken
// install costs its columns, not the run.
const makePiscina: (() => Adapter) | string = await import('./adapters/piscina.js').then(
  ({ PiscinaAdapter }) => () => new PiscinaAdapter(),
  (e: unknown) => {
    note(`piscina: cannot be loaded, its columns are skipped: ${oneLine(e)}`);
    return 'skipped (cannot load)';
  },
);

async function open(name: Pool, make: (() => Adapter) | string, workers: number): Promise<Adapter | string> {
  if (typeof make === 'string') return make;
  const a = make();
  try {
    await a.start(workers);
    await warmUp(a, spinPerMs);
    return a;
  } catch (e) {
    await a.close().catch(() => {});
    note(`${name}, ${workers} workers: start or warm-up failed, its columns are skipped: ${oneLine(e)}`);
    return 'skipped (start failed)';
  }
}

/** One figure per pool, or what its cell says instead. */
async function each<T>(what: string, workers: number, pools: Record<Pool, Adapter | string>,
  measure: (a: Adapter) => Promise<T>): Promise<Record<Pool, T | { missing: string }>> {
  const out = {} as Record<Pool, T | { missing: string }>;
  for (const p of ['spindle', 'piscina'] as const) {
    const a = pools[p];
    out[p] = typeof a === 'string' ? { missing: a } : await measure(a).catch((e: unknown) => {
      note(`${p}, ${workers} workers: ${what} failed: ${oneLine(e)}`);
      return { missing: 'failed' };
    });
  }
  return out;
}

const rows: ScaleRow[] = [];
for (const workers of opts.counts) {
  const foreignCpu = startNoiseMeter();
  const step = (s: string): void => bar.step(`${workers} worker${workers > 1 ? 's' : ''}: ${s}`);
  step('start and warm-up');
  const pools: Record<Pool, Adapter | string> = {
    spindle: await open('spindle', () => new SpindleAdapter(), workers),
    piscina: await open('piscina', makePiscina, workers),
  };
  try {
    step('tiny tasks');
    const tiny = await each('tiny tasks', workers, pools, (a) => tinyThroughput(a, opts.tiny.tinyTasks, opts.tiny.tinyRounds));
    step('round trips');
    const rt = await each('round trips', workers, pools, (a) => roundTrip(a, opts.tiny.latencyCalls, opts.tiny.latencyRounds));
    const latency = (q: 'p50' | 'p99'): Record<Pool, Cell> => ({
      spindle: 'missing' in rt.spindle ? rt.spindle : rt.spindle[q],
      piscina: 'missing' in rt.piscina ? rt.piscina : rt.piscina[q],
    });
    const { ratios, sequentialMs, notes: failures } = await interleavedRounds({ ...plan, workers }, sequential, pools,
      (r) => step(`round ${r + 1}/${opts.rounds}`));
    failures.forEach(note);
    rows.push({ workers, tiny, p50: latency('p50'), p99: latency('p99'), ratios, sequentialMs, noise: foreignCpu() });
  } finally {
    for (const a of Object.values(pools)) if (typeof a !== 'string') await a.close();
  }
}
bar.stop();

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies?: Record<string, string> };
const version = (p: string): string => `${p} ${pkg.devDependencies?.[p] ?? '(version unknown)'}`;
const cpuModel = os.cpus()[0]?.model.trim() ?? 'unknown CPU';
const machine = `${os.availableParallelism()} CPUs (${os.cpus().length} listed), ${cpuModel}; Node ${process.version}; ${os.platform()} ${os.release()}`;
const rounds = (r: { max: number; budgetMs: number }): string => `up to ${r.max} rounds, none started after ${r.budgetMs / 1000} s`;
const setup = [
  `${new Date().toISOString().slice(0, 10)}; whole run ${((performance.now() - started) / 1000).toFixed(0)} s`,
  `spindle and piscina (${version('piscina')}, default options, min = max = workers threads) each have their own threads, plus the main thread that submits and collects; the ceiling uses plain worker_threads (bench/peers/static-split.ts)`,
  `tiny: ${opts.tiny.tinyTasks.toLocaleString('en')} tasks at once, ${rounds(opts.tiny.tinyRounds)}; round trip: ${opts.tiny.latencyCalls.toLocaleString('en')} sequential calls × ${opts.tiny.latencyRounds} rounds`,
  `CPU-bound: ${opts.cpuJobs.toLocaleString('en')} tasks of spin(${spinPerMs.toLocaleString('en')}) ≈ 1 ms (calibrated on the main thread); skewed: ${Math.max(1, Math.round(opts.cpuJobs / 100))} of them 50×, at seeded positions`,
  `fork-join: fib(${opts.fibN}) with sequential leaves at n ≤ ${opts.fibCutoff}: ${forkJoinTasks(opts.fibN, opts.fibCutoff).toLocaleString('en')} tasks; the sequential reference is the plain recursive fib(${opts.fibN}) on the main thread`,
  `each of the ${opts.rounds} round${opts.rounds > 1 ? 's' : ''} per row times, in this order: sequential (CPU, skewed, fib), spindle, piscina, ceiling; every ratio is taken against that round's sequential time`,
];
const report = renderScale({ opts, rows, machine, setup, notes });
process.stdout.write(`${report}\n`);

const dir = new URL('../../bench/results/', import.meta.url);
const file = new URL(opts.full ? 'scale-latest.md' : 'scale-partial.md', dir);
await mkdir(dir, { recursive: true });
await writeFile(file, `${report}\n`);
process.stderr.write(`written to ${file.pathname}\n`);
process.exit(0); // a pool that leaves a handle open must not hang the run after its report
