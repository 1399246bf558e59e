/**
 * `spindle-worker`: starts a machine from the command line.
 *
 *   spindle-worker --queue spindle --redis redis://127.0.0.1:6379 --tasks ./dist/tasks.js
 *
 * SIGTERM / SIGINT drain it gracefully (stop taking jobs, finish the running
 * ones, close Redis, shut the runtime down); a second signal exits at once.
 */
import { parseArgs } from 'node:util';
import { Runtime } from '../runtime.js';
import { serveQueue, type MachineWorkerOptions } from './machine.js';

const USAGE = `usage: spindle-worker --queue <name> --redis <redis://host:port> --tasks <module>[,<module>…] [options]

  --queue <name>            BullMQ queue to serve (required)
  --redis <url>             Redis URL (default redis://127.0.0.1:6379)
  --tasks <modules>         task modules to load, comma-separated or repeated (required)
  --workers <n>             spindle worker threads (default: available parallelism)
  --concurrency <n>         jobs taken at once (default: workers × 4)
  --name <name>             this machine's name (default: <hostname>/<pid>)
  --prefix <prefix>         BullMQ key prefix (default bull)
  --lock-duration <ms>      BullMQ job lock duration (default 30000)
  --stalled-interval <ms>   BullMQ stalled-job check interval (default 30000)
  --max-stalled-count <n>   times a job may stall before it fails (default 1)
  --redis-timeout <ms>      how long to wait for Redis at start (default 10000)
`;

function fail(msg: string): never {
  process.stderr.write(`spindle-worker: ${msg}\n\n${USAGE}`);
  process.exit(2);
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) fail(`--${name} must be a whole number, got ${JSON.stringify(v)}`);
  return n;
}

let values;
try {
  ({ values } = parseArgs({
    options: {
      queue: { type: 'string' },
      redis: { type: 'string', default: 'redis://127.0.0.1:6379' },
      tasks: { type: 'string', multiple: true },
      workers: { type: 'string' },
      concurrency: { type: 'string' },
      name: { type: 'string' },
      prefix: { type: 'string' },
      'lock-duration': { type: 'string' },
      'stalled-interval': { type: 'string' },
      'max-stalled-count': { type: 'string' },
      'redis-timeout': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  }));
} catch (e) {
  fail((e as Error).message);
}
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
}
if (values.queue === undefined) fail('--queue is required');
const tasks = (values.tasks ?? []).flatMap((t) => t.split(',')).filter((t) => t !== '');
if (tasks.length === 0) fail('--tasks is required (the modules that define your tasks)');

const worker: MachineWorkerOptions = {};
const lock = int(values['lock-duration'], 'lock-duration');
const stalled = int(values['stalled-interval'], 'stalled-interval');
const maxStalled = int(values['max-stalled-count'], 'max-stalled-count');
if (lock !== undefined) worker.lockDuration = lock;
if (stalled !== undefined) worker.stalledInterval = stalled;
if (maxStalled !== undefined) worker.maxStalledCount = maxStalled;
const workers = int(values.workers, 'workers');

const runtime = new Runtime(workers === undefined ? {} : { workers });
let machine;
try {
  machine = await serveQueue({
    connection: values.redis!,
    queue: values.queue,
    runtime,
    tasks,
    worker,
    ...(values.name !== undefined ? { name: values.name } : {}),
    ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
    ...(values.concurrency !== undefined ? { concurrency: int(values.concurrency, 'concurrency')! } : {}),
    ...(values['redis-timeout'] !== undefined ? { redisTimeout: int(values['redis-timeout'], 'redis-timeout')! } : {}),
  });
} catch (e) {
  process.stderr.write(`spindle-worker: ${(e as Error).message}\n`);
  await runtime.shutdown();
  process.exit(1);
}
const m = machine;
process.stdout.write(
  `spindle-worker: serving queue ${m.queue} as ${m.name} — ${runtime.workers} workers, concurrency ${m.metrics().concurrency}, ` +
    `${m.tasks().length} tasks (${m.tasks().slice(0, 5).join(', ')}${m.tasks().length > 5 ? ', …' : ''})\n`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) {
    process.stderr.write(`spindle-worker: ${signal} again, exiting now\n`);
    process.exit(1);
  }
  stopping = true;
  process.stdout.write(`spindle-worker: ${signal}: draining (finishing ${m.metrics().running} running jobs)\n`);
  await m.close();
  await runtime.shutdown();
  const x = m.metrics();
  process.stdout.write(`spindle-worker: closed — taken ${x.taken}, completed ${x.completed}, failed ${x.failed}, aborted ${x.aborted}\n`);
  process.exit(0);
}
process.on('SIGTERM', () => void stop('SIGTERM'));
process.on('SIGINT', () => void stop('SIGINT'));
