/**
 * `npm run bench [-- --workers N --only a,b --peers a,b --quick]`
 *
 * Runs every selected scenario for spindle, the peers and the one-thread
 * baseline in this one process, so the figures are side by side on the same
 * machine in the same minute; prints the markdown report on stdout (progress
 * goes to stderr) and writes it under bench/results/.
 */
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import type { Adapter } from './adapter.js';
import { adapters, type AdapterId } from './adapters/index.js';
import type { Rounds } from './measure.js';
import { parseOptions, SCENARIOS, type ScenarioId } from './options.js';
import { writeCharts } from './charts.js';
import { progress } from './progress.js';
import { renderReport } from './report.js';
import { METRICS, Results, type MetricId } from './results.js';
import { startNoiseMeter } from './noise.js';
import { ceilingTimes } from './scenarios/ceiling.js';
import { efficiency, forkJoinTimes } from './scenarios/fork-join.js';
import { roundTrip } from './scenarios/latency.js';
import { peakRss } from './scenarios/rss.js';
import { cpuBatchTimes, speedup } from './scenarios/speedup.js';
import { tinyThroughput } from './scenarios/throughput.js';
import { bulkThroughput, perItemThroughput } from './scenarios/bulk.js';
import { sizesFor } from './sizes.js';
import { warmUp } from './warmup.js';
import { calibrateSpin, fibValue, forkJoinTasks, skewedJobs, uniformJobs } from './workload.js';

const started = performance.now();
const opts = parseOptions(process.argv.slice(2), process.env);
const sizes = sizesFor(opts.quick);
const has = (s: ScenarioId): boolean => opts.scenarios.includes(s);
const inProcessSteps = opts.scenarios.filter((s) => s !== 'rss').length;
const totalSteps =
  (inProcessSteps > 0 ? opts.adapters.length * (inProcessSteps + 1) + (has('cpu') || has('skewed') || has('fib') ? 1 : 0) : 0) +
  (has('rss') ? opts.adapters.length : 0);
const bar = progress(totalSteps);
const log = (s: string): void => bar.note(s);

const spinPerMs = calibrateSpin();
const jobs = { cpu: uniformJobs(sizes.cpuTasks, spinPerMs), skewed: skewedJobs(sizes.cpuTasks, spinPerMs) };
const results = new Results();
const names = new Map(opts.adapters.map((id) => [id, adapters[id]().name]));
/** One-thread median batch times: the numerators of the speedups and of the fork-join efficiency. */
const baselineMs = new Map<MetricId, number>();

function missing(id: AdapterId, scenarios: ScenarioId[], what: string, why: string): void {
  for (const m of METRICS.filter((m) => scenarios.includes(m.scenario))) results.set(m.id, id, { missing: what });
  results.footnotes.push(`${names.get(id)}: ${what} (${scenarios.join(', ')}): ${why}`);
  log(`  ${what}: ${why}`);
}

async function scenario(id: AdapterId, s: ScenarioId, body: () => Promise<void>): Promise<void> {
  if (!has(s)) return;
  bar.step(`${names.get(id)}: ${s}`);
  try {
    await body();
  } catch (e) {
    missing(id, [s], 'failed', String(e));
  }
}

function baseline(metric: MetricId): number {
  const ms = baselineMs.get(metric);
  if (ms === undefined) throw new Error(`no one-thread time for ${metric} to compare with`);
  return ms;
}

async function timeCpu(id: AdapterId, a: Adapter, metric: 'cpu' | 'skewed'): Promise<void> {
  const stats = await cpuBatchTimes(a, metric, jobs[metric], sizes.cpuRounds);
  if (id === 'one-thread') baselineMs.set(metric, stats.p50);
  results.set(metric, id, speedup(baseline(metric), stats));
  results.setBatchMs(metric, id, stats.p50);
}

async function timeForkJoin(id: AdapterId, a: Adapter): Promise<void> {
  if (!a.forkJoin) return results.set('fib', id, { missing: 'n/a' });
  const stats = await forkJoinTimes(a, sizes.fibN, sizes.fibCutoff, sizes.fibRounds, fibValue(sizes.fibN));
  if (id === 'one-thread') baselineMs.set('fib', stats.p50);
  results.set('fib', id, efficiency(baseline('fib'), id === 'one-thread' ? 1 : opts.workers, stats));
  results.setBatchMs('fib', id, stats.p50);
}

async function inProcess(id: AdapterId): Promise<void> {
  const a = adapters[id]();
  const foreignCpu = startNoiseMeter();
  const scenarios = opts.scenarios.filter((s) => s !== 'rss');
  bar.step(`${a.name}: start and warm-up`);
  try {
    await a.start(opts.workers);
    await warmUp(a, spinPerMs);
  } catch (e) {
    missing(id, scenarios, 'skipped', `start() threw: ${String(e)}`);
    await a.close().catch(() => {});
    return;
  }
  try {
    await scenario(id, 'latency', async () => {
      const { p50, p99 } = await roundTrip(a, sizes.latencyCalls, sizes.latencyRounds);
      results.set('p50', id, p50);
      results.set('p99', id, p99);
    });
    await scenario(id, 'tiny', async () => {
      results.set('tiny', id, await tinyThroughput(a, sizes.tinyTasks, sizes.tinyRounds));
      if ((a as Adapter).joinAll) results.set('tiny-join', id, await tinyThroughput(a, sizes.tinyTasks, sizes.tinyRounds, 'joinAll'));
      else results.set('tiny-join', id, { missing: 'n/a' });
    });
    await scenario(id, 'cpu', () => timeCpu(id, a, 'cpu'));
    await scenario(id, 'skewed', () => timeCpu(id, a, 'skewed'));
    await scenario(id, 'fib', () => timeForkJoin(id, a));
    await scenario(id, 'bulk', async () => {
      results.set('bulk', id, await bulkThroughput(a, sizes.bulkItems, opts.workers, sizes.bulkRounds));
      // One task per item: spindle's row only (the peers' per-task rate is the tiny row).
      if (id === 'spindle') results.set('bulk-each', id, await perItemThroughput(a, sizes.bulkEachItems, sizes.bulkRounds));
      else results.set('bulk-each', id, { missing: 'n/a' });
    });
  } finally {
    await closeAdapter(id, a);
    results.noise.set(id, foreignCpu());
  }
}

/**
 * `a.close()`, given at most 10 s, with a referenced timer meanwhile. After the
 * bulk scenario poolifier's `destroy()` sometimes waited on handles that keep
 * nothing alive: with nothing else referenced, Node ended the whole run in the
 * middle of the suite (exit 13, a top-level await that never settled); with the
 * timer it closes in milliseconds — and once in six runs it did not settle at
 * all, which is now a footnote instead of a hang.
 */
async function closeAdapter(id: AdapterId, a: Adapter): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = await Promise.race([
    a.close().then(() => true),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), 10_000);
    }),
  ]);
  clearTimeout(timer);
  if (!closed) {
    results.footnotes.push(`${names.get(id)}: close() had not settled after 10 s; the run went on`);
    log(`  ${names.get(id)}: close() had not settled after 10 s`);
  }
}

async function machineCeiling(): Promise<void> {
  bar.step('machine ceiling');
  const foreignCpu = startNoiseMeter();
  const fib = has('fib') ? { n: sizes.fibN, expected: fibValue(sizes.fibN), rounds: sizes.fibRounds } : undefined;
  const stats = await ceilingTimes(opts.workers, jobs, sizes.cpuRounds, spinPerMs, fib);
  for (const m of ['cpu', 'skewed'] as const) {
    const base = baselineMs.get(m);
    if (base !== undefined) results.ceiling.set(m, speedup(base, stats[m]));
  }
  const fibBase = baselineMs.get('fib');
  if (stats.fib !== undefined && fibBase !== undefined) results.ceiling.set('fib', efficiency(fibBase, opts.workers, stats.fib));
  results.noise.set('ceiling', foreignCpu());
}

if (opts.scenarios.some((s) => s !== 'rss')) {
  // One thread first: every speedup needs its times.
  await inProcess('one-thread');
  if (has('cpu') || has('skewed') || has('fib')) await machineCeiling();
  for (const id of opts.adapters.filter((id) => id !== 'one-thread')) await inProcess(id);
}
if (has('rss')) {
  for (const id of opts.adapters) {
    bar.step(`${names.get(id)}: peak RSS (a child process)`);
    for (const join of ['Promise.all', 'joinAll'] as const) {
      const metric = join === 'joinAll' ? 'rss-join' : 'rss';
      if (join === 'joinAll' && id !== 'spindle') {
        results.set(metric, id, { missing: 'n/a' });
        continue;
      }
      const r = await peakRss(id, opts.workers, sizes.rssTasks, sizes.rssRounds, join).catch((e: unknown) => ({ failed: String(e) }));
      if ('median' in r) {
        results.set(metric, id, r);
      } else {
        const what = 'skipped' in r ? 'skipped' : 'failed';
        results.set(metric, id, { missing: what });
        results.footnotes.push(`${names.get(id)}: ${what} (${metric}): ${'skipped' in r ? r.skipped : r.failed}`);
      }
    }
  }
}

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { devDependencies: Record<string, string> };
const peers = ['piscina', 'tinypool', 'workerpool', 'poolifier', 'tinybench'].map((p) => `${p} ${pkg.devDependencies[p]}`);
const rounds = (r: Rounds): string => `up to ${r.max} rounds, none started after ${r.budgetMs / 1000} s`;
const setup = [
  `${new Date().toISOString().slice(0, 10)}; Node ${process.version}; ${os.cpus()[0]?.model ?? 'unknown CPU'}; ${os.availableParallelism()} CPUs; ${os.platform()} ${os.release()}`,
  `${opts.workers} worker threads per pool, plus the main thread that submits and collects; peers with default options: ${peers.join(', ')}`,
  `tiny: ${sizes.tinyTasks.toLocaleString('en')} tasks at once, ${rounds(sizes.tinyRounds)}; round trip: ${sizes.latencyCalls.toLocaleString('en')} sequential calls × ${sizes.latencyRounds} rounds`,
  `CPU-bound: ${sizes.cpuTasks.toLocaleString('en')} tasks, ${rounds(sizes.cpuRounds)}, spin(${spinPerMs.toLocaleString('en')}) ≈ 1 ms (calibrated on the main thread); skewed: ${Math.round(sizes.cpuTasks / 100)} of them 50×, at seeded positions`,
  `fork-join: fib(${sizes.fibN}) with sequential leaves at n ≤ ${sizes.fibCutoff}: ${forkJoinTasks(sizes.fibN, sizes.fibCutoff).toLocaleString('en')} tasks, ${rounds(sizes.fibRounds)}`,
  `bulk: ${sizes.bulkItems.toLocaleString('en')} items through spindle's map() (automatic chunks) and, for the others, the same items cut by hand into the chunks map() would make (one task per chunk); spindle one task per item: ${sizes.bulkEachItems.toLocaleString('en')} items; ${rounds(sizes.bulkRounds)} after one warm-up round`,
  `peak RSS: ${sizes.rssTasks.toLocaleString('en')} tiny tasks submitted without awaiting, ${sizes.rssRounds} fresh child process(es) per adapter`,
  `whole run: ${((performance.now() - started) / 1000).toFixed(0)} s`,
];
bar.stop();
const report = renderReport(results, opts, names, setup);
process.stdout.write(`${report}\n`);

// Only a full run replaces the committed latest.md; partial and --quick runs go to an ignored file.
const full = !opts.quick && opts.scenarios.length === SCENARIOS.length && opts.adapters.length === Object.keys(adapters).length;
const dir = new URL('../../bench/results/', import.meta.url);
const file = new URL(full ? 'latest.md' : 'partial.md', dir);
await mkdir(dir, { recursive: true });
await writeFile(file, `${report}\n`);
log(`written to ${file.pathname}`);
// The JSON and one SVG chart per metric: docs/bench/ for a full run, beside partial.md otherwise.
const chartDir = full ? new URL('../../docs/bench/', import.meta.url) : new URL('partial/', dir);
for (const f of await writeCharts(chartDir, results, names, setup)) log(`written to ${f}`);
process.exit(0); // a pool that leaves a handle open must not hang the suite after its report
