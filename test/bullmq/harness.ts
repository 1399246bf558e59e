// Test harness for spindle/bullmq: a real redis-server per test file (own
// port, own temp dir, stopped after), machines as child processes running
// bin/spindle-worker.js, and waits that are bounded and fail loudly.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { within } from '../helpers.js';

/** The path of redis-server, or undefined where it is not installed. */
export function redisServerPath(): string | undefined {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? 'redis-server' : undefined;
}

export const NO_REDIS =
  'redis-server not found: these tests need a real Redis (Debian: apt-get install redis-server redis-tools; .ci/run installs it)';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Lines of a child's output, and a way to wait for one. */
class Lines {
  readonly all: string[] = [];
  #waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  #partial = '';

  feed(chunk: string): void {
    const parts = (this.#partial + chunk).split('\n');
    this.#partial = parts.pop()!;
    for (const line of parts) {
      this.all.push(line);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.re.test(line)) return true;
        w.resolve(line);
        return false;
      });
    }
  }

  waitFor(re: RegExp, ms: number, what: string): Promise<string> {
    const hit = this.all.find((l) => re.test(l));
    if (hit !== undefined) return Promise.resolve(hit);
    return within(new Promise<string>((resolve) => this.#waiters.push({ re, resolve })), ms, `${what} (output so far:\n${this.all.slice(-20).join('\n')})`);
  }
}

function track(child: ChildProcess): { lines: Lines; exit: Promise<number | string> } {
  const lines = new Lines();
  child.stdout!.setEncoding('utf8').on('data', (d: string) => lines.feed(d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => lines.feed(d));
  const exit = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { lines, exit };
}

export interface RedisServer {
  url: string;
  port: number;
  pid: number;
  /** Stops it (SIGKILL: no goodbye to clients) and removes its directory. */
  kill(): Promise<void>;
  /** Stops it and removes its directory. */
  stop(): Promise<void>;
}

/** Starts redis-server on a free port (or on `fixedPort`), in a fresh temp dir. */
export async function startRedis(fixedPort?: number): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'spindle-redis-'));
  for (let attempt = 0; ; attempt++) {
    const port = fixedPort ?? (await freePort());
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const { lines, exit } = track(child);
    const ready = lines.waitFor(/Ready to accept connections/, 10_000, `redis-server on port ${port} to start`);
    const outcome = await Promise.race([ready.then(() => 'ready'), exit.then(() => 'exited')]);
    if (outcome === 'ready') {
      let stopped: Promise<void> | null = null;
      const stop = (sig: NodeJS.Signals) =>
        (stopped ??= (async () => {
          child.kill(sig);
          await within(exit, 10_000, 'redis-server to exit');
          rmSync(dir, { recursive: true, force: true });
        })());
      return { url: `redis://127.0.0.1:${port}`, port, pid: child.pid!, kill: () => stop('SIGKILL'), stop: () => stop('SIGTERM') };
    }
    if (attempt >= 2) throw new Error(`redis-server did not start:\n${lines.all.join('\n')}`);
  }
}

const BIN = fileURLToPath(new URL('../../../bin/spindle-worker.js', import.meta.url));
export const TASKS = fileURLToPath(new URL('./tasks.js', import.meta.url));

export interface MachineProcess {
  name: string;
  pid: number;
  lines: Lines;
  exit: Promise<number | string>;
  /** SIGTERM (graceful drain); resolves with the exit code. */
  stop(): Promise<number | string>;
  kill(): Promise<number | string>;
}

/** Starts a machine process (bin/spindle-worker.js) and waits until it serves the queue. */
export async function startMachine(redis: string, queue: string, name: string, extra: string[] = [], tasks = TASKS): Promise<MachineProcess> {
  const child = spawn(process.execPath, [BIN, '--queue', queue, '--redis', redis, '--tasks', tasks, '--workers', '2', '--name', name, ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, SPINDLE_TEST_REDIS: redis },
  });
  const { lines, exit } = track(child);
  const started = await Promise.race([
    lines.waitFor(/^spindle-worker: serving queue/, 20_000, `machine ${name} to start`).then(() => true),
    exit.then(() => false),
  ]);
  if (!started) throw new Error(`machine ${name} exited at start:\n${lines.all.join('\n')}`);
  const end = (sig: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    return within(exit, 20_000, `machine ${name} to exit after ${sig}`);
  };
  return { name, pid: child.pid!, lines, exit, stop: () => end('SIGTERM'), kill: () => end('SIGKILL') };
}

/** A client for the test's own Redis commands. */
export function client(url: string): Redis {
  const r = new Redis(url, { maxRetriesPerRequest: 1 });
  r.on('error', () => {});
  return r;
}

/** QueueEvents that read from now on (no gap between "ready" and its first read). */
export async function queueEvents(url: string, queue: string): Promise<QueueEvents> {
  const r = client(url);
  const last = (await r.xrevrange(`bull:${queue}:events`, '+', '-', 'COUNT', 1)) as [string, string[]][];
  r.disconnect();
  const ev = new QueueEvents(queue, { connection: { url }, lastEventId: last.length > 0 ? last[0]![0] : '0-0' });
  ev.on('error', () => {});
  await ev.waitUntilReady();
  return ev;
}

/** The next `event` of job `id`, within `ms`. Call it before what causes the event. */
export function nextEvent(ev: QueueEvents, event: string, id: string, ms: number): Promise<Record<string, string>> {
  return within(new Promise((resolve) => ev.once(`${event}:${id}` as 'completed', resolve as never)), ms, `BullMQ event ${event} of job ${id}`);
}
