/**
 * `npm run bench:spaced [-- --workers 2 --rounds 3 --warm 2000 --spaced-warm 0]`
 *
 * What a pool costs when its work does not come back to back, every pool side
 * by side in one run:
 *
 * - round trips in a plain loop (`await run(tiny)`, 20,000 per round after
 *   `--warm` calls, 2,000 by default): p50, p99 and p99.9, without a benchmark
 *   harness between the calls. Each round starts a fresh pool, so with the
 *   default the figures include V8 still compiling on the same cores; a
 *   larger `--warm` (20,000) measures a pool that has been up a while;
 * - tiny tasks a timer tick apart (~1 ms, as jobs from a queue over the
 *   network arrive): the whole process's CPU per task (`process.cpuUsage`, every
 *   thread), minus what the same loop costs without the tasks. A pool whose
 *   idle threads spin, or that wakes them at great cost, shows it here. The
 *   park and wake paths are not the round trips' hot ones, and V8 compiles
 *   them while they run: its compiler threads are part of the process's CPU
 *   (about 50 µs per task for spindle's code in the first few thousand spaced
 *   tasks, a few µs after 15,000). `--spaced-warm N` runs N spaced tasks
 *   untimed first, on every pool, to measure a pool that has been serving a
 *   while.
 *
 * Each figure is the median of the rounds, [min–max]; the rounds interleave the
 * pools. Markdown on stdout, progress on stderr.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Adapter } from './adapter.js';
import { adapters, PEERS, type AdapterId } from './adapters/index.js';
import { median } from './measure.js';

const { values } = parseArgs({
  options: {
    workers: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    warm: { type: 'string', default: '2000' },
    'spaced-warm': { type: 'string', default: '0' },
    peers: { type: 'string' },
  },
});
const WORKERS = Number(values.workers);
const ROUNDS = Number(values.rounds);
const WARM = Number(values.warm);
const SPACED_WARM = Number(values['spaced-warm']);
const CALLS = 20_000;
const SPACED = 500;
for (const [flag, v] of [['--workers', WORKERS], ['--rounds', ROUNDS], ['--warm', WARM]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`bench:spaced: ${flag} must be a positive integer, got ${String(v)}`);
}
if (!Number.isInteger(SPACED_WARM) || SPACED_WARM < 0) throw new Error(`bench:spaced: --spaced-warm must be an integer ≥ 0, got ${String(SPACED_WARM)}`);
const peers = values.peers === undefined ? [...PEERS] : values.peers.split(',').filter((p) => p !== '');
for (const p of peers) {
  if (!(PEERS as readonly string[]).includes(p)) throw new Error(`bench:spaced: unknown peer '${p}'; expected some of: ${PEERS.join(', ')}`);
}
const ids: AdapterId[] = ['spindle', ...(peers as AdapterId[])];

const span = (xs: number[], d = 1): string => `${median(xs).toFixed(d)} [${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}]`;
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 0));

async function roundTrips(a: Adapter): Promise<{ p50: number; p99: number; p999: number }> {
  for (let i = 0; i < WARM; i++) await a.run('tiny', i);
  const lat = new Float64Array(CALLS);
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await a.run('tiny', i);
    lat[i] = performance.now() - t0;
  }
  lat.sort();
  const at = (q: number): number => lat[Math.min(CALLS - 1, Math.floor(q * CALLS))]! * 1000;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999) };
}

/** `n` iterations of `await tick()`, with a task before each tick when `task`. */
async function spaced(a: Adapter, n: number, task: boolean): Promise<void> {
  for (let i = 0; i < n; i++) {
    if (task) await a.run('tiny', i);
    await tick();
  }
}

/** µs of process CPU per iteration of `await tick()`, with a task before each tick when `task`. */
async function cpuPerTick(a: Adapter, task: boolean): Promise<number> {
  const c0 = process.cpuUsage();
  await spaced(a, SPACED, task);
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / SPACED;
}

interface Row {
  p50: number[];
  p99: number[];
  p999: number[];
  cpu: number[];
}
const rows = new Map<AdapterId, Row>(ids.map((id) => [id, { p50: [], p99: [], p999: [], cpu: [] }]));
const skipped = new Map<AdapterId, string>();

for (let r = 1; r <= ROUNDS; r++) {
  for (const id of ids) {
    if (skipped.has(id)) continue;
    const a = adapters[id]();
    try {
      await a.start(WORKERS);
    } catch (e) {
      skipped.set(id, String(e));
      continue;
    }
    process.stderr.write(`round ${r}/${ROUNDS} ${a.name}\n`);
    const rt = await roundTrips(a);
    await spaced(a, SPACED_WARM, true);
    const idle = await cpuPerTick(a, false);
    const busy = await cpuPerTick(a, true);
    await a.close();
    const row = rows.get(id)!;
    row.p50.push(rt.p50);
    row.p99.push(rt.p99);
    row.p999.push(rt.p999);
    row.cpu.push(Math.max(0, busy - idle));
  }
}

const cpus = os.cpus();
console.log(`# Spaced work: plain-loop round trips, and CPU per task when tasks come a timer tick apart\n`);
console.log(`${cpus.length} CPUs (${cpus[0]?.model ?? '?'}), Node ${process.version}, ${WORKERS} worker threads per pool; round trips after ${WARM.toLocaleString('en-US')} warm-up calls on a fresh pool, CPU per spaced task after ${SPACED_WARM.toLocaleString('en-US')} untimed ones; median of ${ROUNDS} interleaved rounds [min–max].`);
console.log(`Reproduce: \`npm run bench:spaced -- --workers ${WORKERS} --rounds ${ROUNDS} --warm ${WARM} --spaced-warm ${SPACED_WARM}${values.peers === undefined ? '' : ` --peers ${values.peers}`}\`\n`);
console.log('| pool | round trip p50, µs | p99, µs | p99.9, µs | process CPU per task a tick apart, µs |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [id, row] of rows) {
  if (skipped.has(id)) {
    console.log(`| ${id} | skipped: ${skipped.get(id)} | | | |`);
    continue;
  }
  console.log(`| ${id} | ${span(row.p50)} | ${span(row.p99)} | ${span(row.p999, 0)} | ${span(row.cpu, 0)} |`);
}
console.log(`\nCPU per task: the whole process (every thread) over ${SPACED} tasks each followed by \`setTimeout(0)\`, minus the same loop without the tasks.`);
