// Tasks the test machines load (spindle-worker --tasks dist/test/bullmq/tasks.js).
// Executions are counted in Redis (SPINDLE_TEST_REDIS), from the worker thread
// that runs the task, so a task that runs twice is seen.
import { threadId } from 'node:worker_threads';
import { Redis } from 'ioredis';
import { currentTask, spawn, task } from '../../src/index.js';
import { RenderError } from './errors.js';

let client: Redis | undefined;
/** This thread's Redis client; its socket does not keep the thread alive. */
function redis(): Redis {
  if (client === undefined) {
    const url = process.env['SPINDLE_TEST_REDIS'];
    if (url === undefined) throw new Error('SPINDLE_TEST_REDIS is not set');
    const c = new Redis(url, { maxRetriesPerRequest: 3 });
    c.on('connect', () => (c as unknown as { stream: { unref(): void } }).stream.unref());
    c.on('error', () => {});
    client = c;
  }
  return client;
}

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

/** Squares `i`, spinning `ms` of CPU; counts its execution in the hash `key` (field i) when `key` is set. */
export const square = task('test/square', async function square(i: number, key: string | null, ms: number): Promise<[number, number]> {
  if (ms > 0) spin(ms);
  if (key !== null) await redis().hincrby(key, String(i), 1);
  return [i * i, process.pid];
});

/** Where it ran, and where a task it spawned ran. */
export const whereAmI = task('test/where', function whereAmI(): { pid: number; thread: number } {
  return { pid: process.pid, thread: threadId };
});

export const nested = task('test/nested', async function nested(): Promise<{ parent: { pid: number; thread: number }; child: { pid: number; thread: number } }> {
  const child = spawn(whereAmI);
  return { parent: { pid: process.pid, thread: threadId }, child: await child };
});

/** Throws a RenderError with fields and a cause. */
export const render = task('test/render', function render(page: number): never {
  throw new RenderError(`page ${page} has no layout`, 'E_LAYOUT', { page, tags: ['a', 'b'] }, { cause: new TypeError('layout is undefined') });
});

/**
 * Pushes 'started' to the list `key`, waits for its AbortSignal, then pushes
 * 'aborted' (the test BLPOPs these: no sleeps). Counts its execution in `key:runs`.
 */
export const waitForAbort = task('test/wait-for-abort', async function waitForAbort(key: string): Promise<string> {
  const ctx = currentTask();
  await redis().incr(`${key}:runs`);
  const aborted = new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
  await redis().rpush(key, 'started');
  await aborted;
  await redis().rpush(key, 'aborted');
  return 'saw abort';
});

/** Counts its execution in `key`. */
export const mark = task('test/mark', async function mark(key: string): Promise<string> {
  await redis().incr(key);
  return 'marked';
});

/** A task defined by its module URL: sent under its derived name (dist/test/bullmq/tasks.js#double). */
export const double = task(import.meta.url, function double(n: number): number {
  return 2 * n;
});

/** Fails on its first run (counted in `key`), succeeds on the next: for BullMQ's attempts/backoff. */
export const flaky = task('test/flaky', async function flaky(key: string): Promise<number> {
  const run = await redis().incr(key);
  if (run === 1) throw new Error(`first run of ${key} fails`);
  return run;
});
