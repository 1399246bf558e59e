// Shared test helpers: start fixture workers and await conditions with a bounded timeout.
import { Worker } from 'node:worker_threads';

/** Starts test/fixtures/<name>.js (compiled) with `workerData`. */
export function startWorker(name: string, workerData: unknown): Worker {
  const w = new Worker(new URL(`./fixtures/${name}.js`, import.meta.url), { workerData });
  exits.set(w, new Promise<number>((resolve) => w.once('exit', resolve)));
  return w;
}

// Recorded at start so a worker that exits before anyone asks is still seen exiting.
const exits = new WeakMap<Worker, Promise<number>>();

/** Resolves with the worker's first message; rejects on error, early exit or timeout. */
export function firstMessage<T>(w: Worker, ms = 10_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`worker sent no message within ${ms} ms`)), ms);
    w.once('message', (m: T) => { clearTimeout(t); resolve(m); });
    w.once('error', (e) => { clearTimeout(t); reject(e); });
    w.once('exit', (c) => { clearTimeout(t); reject(new Error(`worker exited (code ${c}) before sending a message`)); });
  });
}

/** Resolves when `w` exits; rejects after `ms`. */
export function exited(w: Worker, ms = 10_000): Promise<number> {
  const exit = exits.get(w);
  if (exit === undefined) throw new Error('exited() needs a worker started by startWorker()');
  return within(exit, ms, 'worker exit');
}

/** Rejects with `what` if `p` has not settled within `ms`. */
export function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(t));
}

/** Test sizes grow with SPINDLE_STRESS=1. */
export const STRESS = process.env['SPINDLE_STRESS'] === '1';

/** Polls `cond` every few ms until true; rejects with `what` after `ms`. */
export async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** A handle as the spawn encoder would send it: (kind, offset). */
export interface SentHandle { kind: string; offset: number }
