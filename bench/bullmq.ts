/**
 * `npm run bench:bullmq`: jobs per second through two machine processes on one
 * Redis, side by side in one run:
 *
 * - spindle:   spindle machines (serveQueue on a 2-worker Runtime), producer bullRuntime().spawn
 * - sandboxed: BullMQ's sandboxed processors with useWorkerThreads (2 threads per machine)
 * - inline:    a BullMQ Worker with an inline processor (the machine's main thread)
 *
 * Two workloads: 1 ms CPU jobs (a calibrated spin) and tiny jobs (x + 1).
 * Rounds interleave the contenders; each figure is the median of the rounds
 * with min–max. Redis commands per second are read from INFO stats, and the
 * CPU other processes took during each measurement is reported.
 *
 *   npm run bench:bullmq -- [--rounds 5] [--cpu-jobs 2000] [--tiny-jobs 5000] [--threads n] [--only spindle,inline]
 *
 * --threads: compute threads per machine (default: half the cores, so that the
 * two machines together have one per core).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Queue, QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { bullRuntime, type BullRuntime } from '../src/bullmq/index.js';
import { client, startRedis } from '../test/bullmq/harness.js';
import { spin as spinTask, tiny as tinyTask } from './bullmq-tasks.js';
import { calibrateSpin } from './workload.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    'cpu-jobs': { type: 'string', default: '2000' },
    'tiny-jobs': { type: 'string', default: '5000' },
    only: { type: 'string' },
    threads: { type: 'string' },
  },
});
const ROUNDS = Number(values.rounds);
/** Compute threads per machine: the two machines together get one per core. */
const THREADS = Number(values.threads ?? Math.max(1, Math.floor(os.availableParallelism() / 2)));
const CPU_JOBS = Number(values['cpu-jobs']);
const TINY_JOBS = Number(values['tiny-jobs']);
const ALL = ['spindle', 'sandboxed', 'inline'] as const;
type Contender = (typeof ALL)[number];
const CONTENDERS: readonly Contender[] = values.only === undefined ? ALL : (values.only.split(',') as Contender[]);
const WORKLOADS = ['cpu', 'tiny'] as const;
type Workload = (typeof WORKLOADS)[number];

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;
const fmt = (x: number): string => (x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x >= 100 ? x.toFixed(0) : x.toFixed(2));

/** CPU time (ms) of a process and all its threads, from /proc. */
function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in 100 Hz ticks
  } catch {
    return 0;
  }
}
const machineBusyMs = (): number => os.cpus().reduce((s, c) => s + c.times.user + c.times.nice + c.times.sys + c.times.irq, 0);

const redis = await startRedis();
const r: Redis = client(redis.url);
const perMs = calibrateSpin(1);

interface Proc {
  child: ChildProcess;
  exit: Promise<unknown>;
}
function startMachine(mode: Contender, queue: string): Promise<Proc> {
  const child = spawn(process.execPath, [new URL('./bullmq-machine.js', import.meta.url).pathname, mode, redis.url, queue, String(THREADS)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exit = new Promise((resolve) => child.once('exit', resolve));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${mode} machine did not start in 30 s`)), 30_000);
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('ready')) {
        clearTimeout(timer);
        resolve({ child, exit });
      }
    });
    void exit.then((code) => reject(new Error(`${mode} machine exited (${String(code)}) at start`)));
  });
}

/** The producer side of each contender: submit n jobs, resolve when all completed. */
interface Producer {
  run(w: Workload, n: number): Promise<void>;
  close(): Promise<void>;
}

function spindleProducer(queue: string): Producer {
  const remote: BullRuntime = bullRuntime({ connection: redis.url, queue });
  return {
    async run(w, n) {
      const hs = [];
      for (let i = 0; i < n; i++) hs.push(w === 'cpu' ? remote.spawn(spinTask, perMs) : remote.spawn(tinyTask, i));
      await Promise.all(hs);
    },
    close: () => remote.close(),
  };
}

async function bullProducer(queue: string): Promise<Producer> {
  const q = new Queue(queue, { connection: { url: redis.url } });
  const last = (await r.xrevrange(`bull:${queue}:events`, '+', '-', 'COUNT', 1)) as [string, string[]][];
  const ev = new QueueEvents(queue, { connection: { url: redis.url }, lastEventId: last.length > 0 ? last[0]![0] : '0-0' });
  await ev.waitUntilReady();
  let waiting = new Set<string>();
  let done: (() => void) | null = null;
  let fail: ((e: Error) => void) | null = null;
  ev.on('completed', ({ jobId }) => {
    if (waiting.delete(jobId) && waiting.size === 0) done?.();
  });
  ev.on('failed', ({ jobId, failedReason }) => {
    if (waiting.has(jobId)) fail?.(new Error(`job ${jobId} failed: ${failedReason}`));
  });
  let seq = 0;
  return {
    async run(w, n) {
      const jobs = [];
      waiting = new Set();
      for (let i = 0; i < n; i++) {
        const jobId = `b.${++seq}`;
        waiting.add(jobId);
        jobs.push({ name: w, data: { k: w === 'cpu' ? 'spin' : 'tiny', n: w === 'cpu' ? perMs : i }, opts: { jobId, removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 } } });
      }
      const all = new Promise<void>((resolve, reject) => {
        done = resolve;
        fail = reject;
      });
      for (let i = 0; i < jobs.length; i += 500) await q.addBulk(jobs.slice(i, i + 500));
      await all;
    },
    async close() {
      await ev.close();
      await q.close();
    },
  };
}

async function redisCommands(): Promise<number> {
  const info = await r.info('stats');
  return Number(/total_commands_processed:(\d+)/.exec(info)![1]);
}

interface Sample {
  jobsPerSec: number;
  redisOpsPerSec: number;
  foreign: number;
  /** CPU ms per job: the two machines, the producer, Redis. */
  cpu: { machines: number; producer: number; redis: number };
}
const samples = new Map<string, Sample[]>();

console.error(`bench:bullmq — starting redis-server and ${CONTENDERS.length * 2} machine processes…`);
const machines = new Map<Contender, Proc[]>();
const producers = new Map<Contender, Producer>();
for (const c of CONTENDERS) {
  machines.set(c, await Promise.all([startMachine(c, c), startMachine(c, c)]));
  producers.set(c, c === 'spindle' ? spindleProducer(c) : await bullProducer(c));
}
const ourPids = (): number[] => [process.pid, redis.pid, ...[...machines.values()].flat().map((m) => m.child.pid!)];

// Warm-up: JIT, connections, worker threads and sandboxes started.
for (const c of CONTENDERS) {
  await producers.get(c)!.run('tiny', 200);
  await producers.get(c)!.run('cpu', 50);
}

const loadBefore = os.loadavg()[0]!;
for (let round = 0; round < ROUNDS; round++) {
  const order = CONTENDERS.map((_, i) => CONTENDERS[(i + round) % CONTENDERS.length]!);
  for (const c of order) {
    for (const w of WORKLOADS) {
      const n = w === 'cpu' ? CPU_JOBS : TINY_JOBS;
      const cmd0 = await redisCommands();
      const ours0 = ourPids().reduce((s, p) => s + cpuMs(p), 0);
      const mach0 = machines.get(c)!.reduce((s, m) => s + cpuMs(m.child.pid!), 0);
      const prod0 = cpuMs(process.pid);
      const redis0 = cpuMs(redis.pid);
      const busy0 = machineBusyMs();
      const t0 = performance.now();
      await producers.get(c)!.run(w, n);
      const dt = performance.now() - t0;
      const ours = ourPids().reduce((s, p) => s + cpuMs(p), 0) - ours0;
      const cpu = {
        machines: (machines.get(c)!.reduce((s, m) => s + cpuMs(m.child.pid!), 0) - mach0) / n,
        producer: (cpuMs(process.pid) - prod0) / n,
        redis: (cpuMs(redis.pid) - redis0) / n,
      };
      const busy = machineBusyMs() - busy0;
      const cmds = (await redisCommands()) - cmd0;
      const foreign = Math.max(0, busy - ours) / (dt * os.cpus().length);
      const key = `${c}/${w}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key)!.push({ jobsPerSec: (n * 1000) / dt, redisOpsPerSec: (cmds * 1000) / dt, foreign, cpu });
      console.error(
        `round ${round + 1}/${ROUNDS} ${key}: ${fmt((n * 1000) / dt)} jobs/s, Redis ${fmt((cmds * 1000) / dt)} ops/s; ` +
          `CPU ms per job: machines ${cpu.machines.toFixed(2)}, producer ${cpu.producer.toFixed(2)}, redis ${cpu.redis.toFixed(2)}; other processes ${(foreign * 100).toFixed(0)} % of the CPUs`,
      );
    }
  }
}

for (const c of CONTENDERS) await producers.get(c)!.close();
for (const ms of machines.values()) for (const m of ms) m.child.kill('SIGTERM');
await Promise.all([...machines.values()].flat().map((m) => m.exit));
r.disconnect();
await redis.stop();

const stat = (key: string, f: (s: Sample) => number): { med: number; min: number; max: number } => {
  const xs = samples.get(key)!.map(f);
  return { med: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
};
const lines: string[] = [];
lines.push(`# spindle/bullmq vs BullMQ — ${os.cpus().length} CPUs, Node ${process.version}, redis-server ${(await import('node:child_process')).execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1]}`);
lines.push('');
lines.push(`Reproduce: \`npm run bench:bullmq -- --rounds ${ROUNDS} --cpu-jobs ${CPU_JOBS} --tiny-jobs ${TINY_JOBS} --threads ${THREADS}\``);
lines.push('');
lines.push(
  `One Redis; two machine processes per contender, each with ${THREADS} compute thread(s) (spindle: a ${THREADS}-worker Runtime, serveQueue concurrency ${THREADS * 4}; ` +
    `sandboxed: BullMQ Worker with a processor file, useWorkerThreads, concurrency ${THREADS}; inline: BullMQ Worker, inline processor — its main thread — concurrency ${THREADS * 4}). ` +
    `Jobs are submitted all at once (addBulk by 500) and timed until the producer has every result. cpu = ${CPU_JOBS} jobs of ~1 ms ` +
    `(spin, ${perMs} iterations), tiny = ${TINY_JOBS} jobs of x + 1. Median of ${ROUNDS} interleaved rounds, min–max in brackets.`,
);
lines.push('');
lines.push('| workload | spindle jobs/s | sandboxed (worker threads) jobs/s | inline jobs/s | spindle ÷ sandboxed | spindle ÷ inline | Redis ops/s (spindle / sandboxed / inline) |');
lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
const none = { med: NaN, min: NaN, max: NaN };
for (const w of WORKLOADS) {
  const s = ALL.map((c) => (samples.has(`${c}/${w}`) ? stat(`${c}/${w}`, (x) => x.jobsPerSec) : none));
  const ops = ALL.map((c) => (samples.has(`${c}/${w}`) ? fmt(stat(`${c}/${w}`, (x) => x.redisOpsPerSec).med) : '–'));
  const cell = (x: { med: number; min: number; max: number }): string => (Number.isNaN(x.med) ? '–' : `**${fmt(x.med)}** (${fmt(x.min)}–${fmt(x.max)})`);
  const ratio = (x: number): string => (Number.isNaN(x) ? '–' : `${x.toFixed(2)}×`);
  lines.push(`| ${w === 'cpu' ? '1 ms CPU' : 'tiny'} | ${cell(s[0]!)} | ${cell(s[1]!)} | ${cell(s[2]!)} | ${ratio(s[0]!.med / s[1]!.med)} | ${ratio(s[0]!.med / s[2]!.med)} | ${ops.join(' / ')} |`);
}
lines.push('');
lines.push('CPU time per job (ms, median): where the work goes.');
lines.push('');
lines.push('| contender / workload | machines | producer | Redis |');
lines.push('| --- | ---: | ---: | ---: |');
for (const [key, xs] of samples) {
  lines.push(`| ${key} | ${median(xs.map((x) => x.cpu.machines)).toFixed(2)} | ${median(xs.map((x) => x.cpu.producer)).toFixed(2)} | ${median(xs.map((x) => x.cpu.redis)).toFixed(2)} |`);
}
const foreign = [...samples.values()].flat().map((s) => s.foreign);
lines.push('');
lines.push(
  `Other processes used ${(median(foreign) * 100).toFixed(0)} % of the CPUs during a median measurement (max ${(Math.max(...foreign) * 100).toFixed(0)} %); ` +
    `load average ${loadBefore.toFixed(2)} before the run, ${os.loadavg()[0]!.toFixed(2)} after.`,
);
const report = lines.join('\n') + '\n';
process.stdout.write('\n' + report);
writeFileSync(new URL('../../bench/results/bullmq-latest.md', import.meta.url), report);
