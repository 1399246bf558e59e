// Shared test helpers: start fixture workers, and await conditions with a
// bounded timeout that fails loudly instead of hanging.
import { spawn as spawnProcess } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { SHARED, type SharedRef } from '../src/shared/handle.js';
import { globalHeap } from '../src/shared/heap.js';

/** Resolves with `p`, or rejects after `ms` with a message that says what never happened. */
export function within<T>(p: PromiseLike<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    Promise.resolve(p).finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]);
}

/** Awaits `p` and returns what it rejected with; fails if it fulfils. */
export async function rejectionOf(p: PromiseLike<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection, but the promise fulfilled');
}

/** What `f` throws; fails if it returns. */
export function thrownBy(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw, but the call returned');
}

/** Test sizes grow with SPINDLE_STRESS=1. */
export const STRESS = process.env['SPINDLE_STRESS'] === '1';

const tracked = new WeakMap<Worker, { exit: Promise<number>; message: Promise<unknown> }>();

/** Starts test/fixtures/<name>.js (compiled) with `workerData`. */
export function startWorker(name: string, workerData: unknown): Worker {
  const w = new Worker(new URL(`./fixtures/${name}.js`, import.meta.url), { workerData });
  const exit = new Promise<number>((resolve) => w.once('exit', resolve));
  // Recorded at start, so a worker that answers or exits before anyone asks is still seen.
  const message = new Promise<unknown>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
    void exit.then((c) => reject(new Error(`worker exited (code ${c}) before sending a message`)));
  });
  message.catch(() => {}); // only an error if someone awaits it
  tracked.set(w, { exit, message });
  return w;
}

function trackOf(w: Worker): { exit: Promise<number>; message: Promise<unknown> } {
  const t = tracked.get(w);
  if (t === undefined) throw new Error('test helper needs a worker started by startWorker()');
  return t;
}

/** The worker's first message; rejects on error, exit without a message, or timeout. */
export function firstMessage<T>(w: Worker, ms = 10_000): Promise<T> {
  return within(trackOf(w).message as Promise<T>, ms, 'first message from worker');
}

/** Resolves with the exit code when `w` exits; rejects after `ms`. */
export function exited(w: Worker, ms = 10_000): Promise<number> {
  return within(trackOf(w).exit, ms, 'worker exit');
}

/** Polls `cond` every few ms until true; rejects with `what` after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A handle as the spawn encoder would send it: (kind, offset, generation). */
export interface SentHandle { kind: string; offset: number; generation?: number }

/** What the spawn encoder does with a handle: take (kind, offset, generation) and commit the move. */
export function send(x: { [SHARED](): SharedRef }): SentHandle {
  const r = x[SHARED]();
  r.commit?.();
  return { kind: r.kind, offset: r.offset, generation: (r as { generation?: number }).generation };
}

/** Control words for a fixture ([0] = go flag). */
export function controlWords(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(64));
}

/** Starts test/fixtures/sync-worker.js on the global heap with scenario `op`. */
export function syncJob(op: string, handles: SentHandle[], n = 0, ctl = controlWords()): Worker {
  return startWorker('sync-worker', { buffer: globalHeap().buffer, op, handles, n, ctl });
}

/** Releases every fixture waiting in waitGo(). */
export function go(ctl: Int32Array): void {
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
}

/**
 * Runs test/fixtures/main-scenarios.js `scenario` as the main thread of a
 * child process (for scenarios where the main thread blocks synchronously:
 * a hang there cannot be bounded from inside the same process). Resolves with
 * the JSON line it prints last; rejects, killing it, after `ms`.
 */
export function mainScenario<T>(scenario: string, ms = 15_000, env: Record<string, string> = {}): Promise<T> {
  const child = spawnProcess(process.execPath, [new URL('./fixtures/main-scenarios.js', import.meta.url).pathname, scenario], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const done = new Promise<T>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      const last = out.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`scenario ${scenario} exited (code ${code}, signal ${signal}) without a result; stdout: ${out} stderr: ${err}`));
      }
    });
  });
  return within(done, ms, `main-thread scenario ${scenario} (the child process's main thread hung)`).finally(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
}
