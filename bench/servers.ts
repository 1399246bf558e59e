/**
 * `npm run bench:servers`: servers side by side in one run.
 * - redis-benchmark (`-t set,get -c 50`, unpipelined and `-P 16`) against
 *   examples/mini-redis, a real redis-server, and a single-threaded Node RESP
 *   server (bench/peers/node-resp.ts);
 * - echo bytes/s with 200 connections: examples/echo vs a single-threaded
 *   Node echo server (bench/peers/node-echo.ts);
 * - HTTP offload with autocannon: the cheap endpoint's latency and both
 *   endpoints' throughput while /heavy is loaded, inline vs piscina vs spindle.
 * Each figure is the median of `--rounds` (default 3), servers interleaved per
 * round. Options: `--workers N` (default 2), `--rounds N`, `--requests N`
 * (redis-benchmark -n, default 100000), `--quick`. Writes bench/results/servers-latest.md.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import autocannon from 'autocannon';

const run = promisify(execFile);
const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? dflt : Number(process.argv[i + 1]);
};
const quick = process.argv.includes('--quick');
const WORKERS = arg('workers', 2);
const ROUNDS = arg('rounds', quick ? 1 : 3);
const REQUESTS = arg('requests', quick ? 20_000 : 100_000);
const ECHO_CONNS = 200;
const ECHO_BYTES = quick ? 256 << 10 : 1 << 20;
const HTTP_SECONDS = quick ? 3 : 6;

const here = (p: string): string => fileURLToPath(new URL(p, import.meta.url));
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Proc {
  port: number;
  stop(): Promise<void>;
}

/** Starts a node script that prints `listening on HOST:PORT`. */
async function startNode(script: string, args: string[]): Promise<Proc> {
  const p = spawn(process.execPath, [here(script), ...args, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    p.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on [^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    p.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
  p.stdout!.resume();
  return { port, stop: () => stopProc(p) };
}

function stopProc(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

async function startRedis(): Promise<Proc> {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  for (let i = 0; i < 200; i++) {
    try {
      if ((await run('redis-cli', ['-p', String(port), 'ping'])).stdout.trim() === 'PONG') return { port, stop: () => stopProc(p) };
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('redis-server did not start');
}

/** requests/s per test from redis-benchmark's CSV output. */
async function redisBench(port: number, pipeline: number): Promise<Record<string, number>> {
  const { stdout } = await run('redis-benchmark', ['-p', String(port), '-t', 'set,get', '-n', String(REQUESTS), '-c', '50', '-P', String(pipeline), '--csv'], {
    maxBuffer: 1 << 24,
  });
  const out: Record<string, number> = {};
  for (const line of stdout.split('\n')) {
    const m = /^"(\w+)","([\d.]+)"/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}

const k = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
const lines: string[] = [];
const say = (s = ''): void => {
  console.log(s);
  lines.push(s);
};

say(`# npm run bench:servers — ${new Date().toISOString()}`);
say();
say(`Node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), spindle workers: ${WORKERS}, rounds: ${ROUNDS} (median shown).`);
say(`Every client runs on the same machine as the servers: on few cores the load generator takes CPU from them.`);
say();

// ───── redis-benchmark ─────
const servers: { name: string; start: () => Promise<Proc> }[] = [
  { name: `mini-redis (spindle, ${WORKERS} workers)`, start: () => startNode('../examples/mini-redis/main.js', ['--workers', String(WORKERS)]) },
  { name: 'redis-server', start: startRedis },
  { name: 'single-threaded Node RESP', start: () => startNode('./peers/node-resp.js', []) },
];
const rb: Record<string, Record<string, number[]>> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const s of servers) {
    const p = await s.start();
    try {
      for (const pl of [1, 16]) {
        const res = await redisBench(p.port, pl);
        for (const [t, v] of Object.entries(res)) ((rb[s.name] ??= {})[`${t} P${pl}`] ??= []).push(v);
      }
    } finally {
      await p.stop();
    }
  }
}
say(`## redis-benchmark -t set,get -n ${REQUESTS} -c 50 (requests/s)`);
say();
const cols = ['SET P1', 'GET P1', 'SET P16', 'GET P16'];
say(`| server | ${cols.map((c) => c.replace(' P16', ' -P 16').replace(' P1', '')).join(' | ')} |`);
say(`| --- | ${cols.map(() => '---:').join(' | ')} |`);
for (const s of servers) say(`| ${s.name} | ${cols.map((c) => k(median(rb[s.name]![c] ?? [0]))).join(' | ')} |`);
const mr = rb[servers[0]!.name]!;
const nodeR = rb[servers[2]!.name]!;
const redis = rb[servers[1]!.name]!;
say(`| mini-redis / single-threaded Node | ${cols.map((c) => `${(median(mr[c]!) / median(nodeR[c]!)).toFixed(2)}×`).join(' | ')} |`);
say(`| mini-redis / redis-server | ${cols.map((c) => `${(median(mr[c]!) / median(redis[c]!)).toFixed(2)}×`).join(' | ')} |`);
say();

// ───── echo ─────
const echoServers: { name: string; start: () => Promise<Proc> }[] = [
  { name: `examples/echo (spindle, ${WORKERS} workers)`, start: () => startNode('../examples/echo/main.js', ['--workers', String(WORKERS)]) },
  { name: 'single-threaded Node echo', start: () => startNode('./peers/node-echo.js', []) },
];
const eb: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const s of echoServers) {
    const p = await s.start();
    try {
      const { stdout } = await run(process.execPath, [here('./echo-client.js'), String(p.port), String(ECHO_CONNS), String(ECHO_BYTES)]);
      (eb[s.name] ??= []).push((JSON.parse(stdout) as { bytesPerSecond: number }).bytesPerSecond);
    } finally {
      await p.stop();
    }
  }
}
say(`## echo: ${ECHO_CONNS} connections × ${ECHO_BYTES >> 10} KiB each, bytes echoed per second`);
say();
say('| server | MiB/s |');
say('| --- | ---: |');
for (const s of echoServers) say(`| ${s.name} | ${(median(eb[s.name]!) / (1 << 20)).toFixed(0)} |`);
say(`| spindle / single-threaded | ${(median(eb[echoServers[0]!.name]!) / median(eb[echoServers[1]!.name]!)).toFixed(2)}× |`);
say();

// ───── HTTP offload ─────
const hb: Record<string, { p50: number[]; p99: number[]; cheap: number[]; heavy: number[] }> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['inline', 'piscina', 'spindle']) {
    const p = await startNode('../examples/http-offload/main.js', ['--mode', mode, '--workers', String(WORKERS)]);
    try {
      const base = `http://127.0.0.1:${p.port}`;
      const [heavy, cheap] = await Promise.all([
        autocannon({ url: `${base}/heavy?p=secret`, connections: 8, duration: HTTP_SECONDS }),
        autocannon({ url: `${base}/cheap`, connections: 4, duration: HTTP_SECONDS }),
      ]);
      const h = (hb[mode] ??= { p50: [], p99: [], cheap: [], heavy: [] });
      h.p50.push(cheap.latency.p50);
      h.p99.push(cheap.latency.p99);
      h.cheap.push(cheap.requests.total / cheap.duration);
      h.heavy.push(heavy.requests.total / heavy.duration);
    } finally {
      await p.stop();
    }
  }
}
say(`## HTTP offload (autocannon ${HTTP_SECONDS} s: /heavy with 8 connections and /cheap with 4, at once; heavy = PBKDF2, ≈10 ms)`);
say();
say('| heavy job runs | /cheap p50 ms | /cheap p99 ms | /cheap req/s | /heavy req/s |');
say('| --- | ---: | ---: | ---: | ---: |');
for (const mode of ['inline', 'piscina', 'spindle']) {
  const h = hb[mode]!;
  say(`| ${mode} | ${median(h.p50).toFixed(1)} | ${median(h.p99).toFixed(1)} | ${median(h.cheap).toFixed(0)} | ${median(h.heavy).toFixed(0)} |`);
}
say();
say('16-core figures (mini-redis at 16 workers against redis-server) remain to be measured: no many-core machine was available.');
writeFileSync(here('../../bench/results/servers-latest.md'), `${lines.join('\n')}\n`);
