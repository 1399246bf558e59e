/**
 * One machine of `npm run bench:bullmq`: node dist/bench/bullmq-machine.js <mode> <redis-url> <queue> <threads>
 *
 * - spindle:   serveQueue on a spindle Runtime of <threads> workers (concurrency threads × 4)
 * - sandboxed: a BullMQ Worker with a processor file and useWorkerThreads, concurrency <threads> (one thread per job)
 * - inline:    a BullMQ Worker with an inline processor (the main thread), concurrency threads × 4
 *
 * Prints "ready" once it takes jobs; SIGTERM closes it and prints its CPU time.
 */
import { fileURLToPath } from 'node:url';
import { Worker, type Job } from 'bullmq';
import { Runtime } from '../src/index.js';
import { serveQueue } from '../src/bullmq/index.js';
import { spin } from './tasks.js';

const [mode, url, queue, threads] = process.argv.slice(2) as ['spindle' | 'sandboxed' | 'inline', string, string, string];
const THREADS = Number(threads);

let close: () => Promise<void>;
if (mode === 'spindle') {
  await import('./bullmq-tasks.js');
  const rt = new Runtime({ workers: THREADS });
  const m = await serveQueue({ connection: url, queue, runtime: rt });
  close = async () => {
    await m.close();
    await rt.shutdown({ timeout: 2000 });
  };
} else if (mode === 'sandboxed') {
  const w = new Worker(queue, fileURLToPath(new URL('./bullmq-sandbox.js', import.meta.url)), {
    connection: { url },
    useWorkerThreads: true,
    concurrency: THREADS,
  });
  w.on('error', (e) => process.stderr.write(`sandboxed: ${e.message}\n`));
  await w.waitUntilReady();
  close = () => w.close();
} else if (mode === 'inline') {
  const w = new Worker(queue, async (job: Job<{ k: 'spin' | 'tiny'; n: number }>) => (job.data.k === 'spin' ? spin(job.data.n) : job.data.n + 1), {
    connection: { url },
    concurrency: THREADS * 4,
  });
  w.on('error', (e) => process.stderr.write(`inline: ${e.message}\n`));
  await w.waitUntilReady();
  close = () => w.close();
} else {
  throw new Error(`unknown mode ${String(mode)}`);
}
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  void close().then(() => process.exit(0));
});
