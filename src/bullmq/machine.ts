/**
 * The machine side of spindle/bullmq: `serveQueue({ connection, queue, runtime })`
 * runs a BullMQ `Worker` whose jobs are spawned onto the local spindle runtime
 * (all its worker threads, work stealing; nested spawns stay on this machine).
 *
 * BullMQ's main-thread work (fetching jobs, renewing locks, reporting results)
 * stays on the event loop while the tasks run on the runtime's threads, so
 * locks keep being renewed however long a CPU-bound task runs.
 */
import { hostname } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { pathToFileURL } from 'node:url';
import { UnrecoverableError, Worker, type Job, type WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, JoinError, SpindleError, typeError } from '../errors.js';
import type { JoinHandle } from '../join.js';
import type { Runtime } from '../runtime.js';
import { checkMs, checkQueueName, resolveConnection, whenReady, type RedisConnection } from './connection.js';
import { TaskIndex } from './names.js';
import { abortChannel, abortKey } from './producer.js';
import { checkJob, decodeArgs, encodeResult, failureReason, type JobData } from './wire.js';

/** BullMQ Worker options a machine passes through (the rest are spindle's). */
export type MachineWorkerOptions = Pick<
  WorkerOptions,
  'lockDuration' | 'lockRenewTime' | 'stalledInterval' | 'maxStalledCount' | 'maxStartedAttempts' | 'drainDelay' | 'limiter' | 'metrics' | 'removeOnComplete' | 'removeOnFail'
>;

/** Options of {@link serveQueue}. */
export interface ServeQueueOptions {
  /** Where Redis is: a `redis://` URL, ioredis options, or an ioredis client (its options are used). */
  connection: RedisConnection;
  /** The BullMQ queue to take jobs from. */
  queue: string;
  /** The local runtime the jobs' tasks run on. `close()` leaves it running. */
  runtime: Runtime;
  /** BullMQ's key prefix. Default `bull`. */
  prefix?: string;
  /** Jobs taken at once. Default `runtime.workers × 4`: enough to keep every worker busy while results travel. */
  concurrency?: number;
  /** This machine's name, in failures and metrics. Default `<hostname>/<pid>`. */
  name?: string;
  /** Task modules to import before taking jobs (paths relative to the working directory, or URLs). */
  tasks?: (string | URL)[];
  /** Milliseconds to wait for Redis at start before `serveQueue` rejects. Default 10,000. */
  redisTimeout?: number;
  /** BullMQ Worker options: lock and stalled-check timing, limiter, metrics. */
  worker?: MachineWorkerOptions;
}

/** What {@link Machine.metrics} reports. */
export interface MachineMetrics {
  /** The machine's name. */
  name: string;
  /** Jobs it takes at once. */
  concurrency: number;
  /** Jobs taken from the queue. */
  taken: number;
  /** Jobs running now (their tasks on the runtime). */
  running: number;
  /** Jobs completed. */
  completed: number;
  /** Jobs failed: the task panicked, is unknown here, or the job is unreadable. */
  failed: number;
  /** Jobs aborted by their producer (running ones, and ones aborted before they started here). */
  aborted: number;
}

const WORKER_OPTIONS = new Set(['lockDuration', 'lockRenewTime', 'stalledInterval', 'maxStalledCount', 'maxStartedAttempts', 'drainDelay', 'limiter', 'metrics', 'removeOnComplete', 'removeOnFail']);
const OPTIONS = new Set(['connection', 'queue', 'runtime', 'prefix', 'concurrency', 'name', 'tasks', 'redisTimeout', 'worker']);

/** Aborts that arrived for jobs not running here (yet), kept this long. */
const RECENT_ABORT_MS = 10 * 60_000;

/** A machine serving a queue: see `serveQueue`. */
export class Machine {
  /** This machine's name. */
  readonly name: string;
  /** The queue it serves. */
  readonly queue: string;
  /** The BullMQ worker (for its events; do not close it directly, use `close()`). */
  readonly worker: Worker;
  readonly #runtime: Runtime;
  readonly #ctl: Redis;
  readonly #sub: Redis;
  readonly #prefix: string;
  readonly #index = new TaskIndex();
  readonly #running = new Map<string, JoinHandle<unknown>>();
  /** Job ids whose abort message came while they were not running here: id → when. */
  readonly #recentAborts = new Map<string, number>();
  /** Running jobs this machine aborted on request: their cancellation fails the job for good. */
  readonly #abortRequested = new Set<string>();
  #closing: Promise<void> | null = null;
  readonly #m: MachineMetrics;

  /** @internal use serveQueue() */
  constructor(name: string, queue: string, runtime: Runtime, prefix: string, concurrency: number, ctl: Redis, sub: Redis, workerOpts: WorkerOptions) {
    this.name = name;
    this.queue = queue;
    this.#runtime = runtime;
    this.#prefix = prefix;
    this.#ctl = ctl;
    this.#sub = sub;
    this.#m = { name, concurrency, taken: 0, running: 0, completed: 0, failed: 0, aborted: 0 };
    sub.on('message', (_channel: string, msg: string) => this.#onAbort(msg));
    this.worker = new Worker(queue, (job: Job) => this.#process(job), { ...workerOpts, autorun: false });
    this.worker.on('error', () => {}); // connection trouble: BullMQ reconnects; jobs whose locks lapse run elsewhere
  }

  /** A snapshot of this machine's counters. */
  metrics(): MachineMetrics {
    return { ...this.#m };
  }

  /** The task names this machine can run. */
  tasks(): string[] {
    return this.#index.names();
  }

  async #process(job: Job): Promise<unknown> {
    const id = job.id!;
    this.#m.taken++;
    this.#m.running++;
    try {
      const value = await this.#run(job, id);
      this.#m.completed++;
      return value;
    } catch (e) {
      if (e instanceof UnrecoverableError && e.message.startsWith('cancelled')) this.#m.aborted++;
      else this.#m.failed++;
      throw e;
    } finally {
      this.#m.running--;
    }
  }

  async #run(job: Job, id: string): Promise<unknown> {
    const bad = checkJob(job.data);
    if (bad !== undefined) {
      const e = new SpindleError(ErrorCode.INCOMPATIBLE_PAYLOAD, `spindle/bullmq: job ${id} cannot be read by machine ${this.name}: ${bad}. Producers and machines must run compatible versions of spindle.`);
      throw this.#fail(UnrecoverableError, 'panic', e.message, e);
    }
    const data = job.data as JobData;
    const fn = this.#index.find(data.t);
    if (fn === undefined) {
      const known = this.#index.names();
      const e = new SpindleError(
        ErrorCode.TASK_NOT_FOUND,
        `spindle/bullmq: task '${data.t}' is not defined on machine ${this.name} (job ${id}). ` +
          `This machine knows ${known.length === 0 ? 'no tasks' : `${known.length} task(s): ${known.slice(0, 10).join(', ')}${known.length > 10 ? ', …' : ''}`}. ` +
          'Load the module that defines it (spindle-worker --tasks, or serveQueue({ tasks })), and run the same code as the producer.',
      );
      throw this.#fail(Error, 'panic', e.message, e);
    }
    if (this.#recentAborts.delete(id) || (isRerun(job) && (await this.#ctl.exists(abortKey(this.#prefix, this.queue, id))) === 1)) {
      throw this.#fail(UnrecoverableError, 'cancelled', `cancelled: job ${id} was aborted by its producer before it started on ${this.name}`, undefined);
    }
    let args: unknown[];
    try {
      args = decodeArgs(data);
    } catch (e) {
      const err = new SpindleError(ErrorCode.INCOMPATIBLE_PAYLOAD, `spindle/bullmq: the arguments of job ${id} cannot be decoded on machine ${this.name}: ${(e as Error).message}`);
      throw this.#fail(UnrecoverableError, 'panic', err.message, err);
    }
    let h: JoinHandle<unknown>;
    try {
      h = this.#runtime.spawn(fn as (...a: unknown[]) => unknown, ...args);
    } catch (e) {
      // The runtime is shut down (or broken): a retryable failure, the job may run elsewhere.
      throw this.#fail(Error, 'panic', `spindle/bullmq: machine ${this.name} could not run job ${id}: ${(e as Error).message}`, e);
    }
    this.#running.set(id, h);
    let value: unknown;
    try {
      value = await h;
    } catch (e) {
      if (e instanceof JoinError && e.isCancelled()) {
        if (this.#abortRequested.has(id)) throw this.#fail(UnrecoverableError, 'cancelled', `cancelled: job ${id} was aborted by its producer while it ran on ${this.name}`, undefined);
        throw this.#fail(Error, 'cancelled', `cancelled: ${e.message} (on ${this.name})`, undefined);
      }
      const panic = e instanceof JoinError && e.isPanic() ? e.intoPanic() : e;
      throw this.#fail(Error, 'panic', headline(panic), panic);
    } finally {
      this.#running.delete(id);
      this.#abortRequested.delete(id);
    }
    try {
      return encodeResult(value);
    } catch (e) {
      const err = typeError(`spindle/bullmq: the result of task ${data.t} (job ${id}) cannot be sent back: ${(e as Error).message}`, ErrorCode.NOT_SENDABLE);
      throw this.#fail(Error, 'panic', err.message, err);
    }
  }

  /** The error to throw to BullMQ: a readable first line, the whole error encoded after it. */
  #fail(C: new (m: string) => Error, kind: 'panic' | 'cancelled', head: string, panic: unknown): Error {
    const e = new C(failureReason(kind, this.name, head, panic));
    if (panic instanceof Error && panic.stack !== undefined) e.stack = panic.stack;
    return e;
  }

  #onAbort(msg: string): void {
    let req: { id?: unknown; force?: unknown; grace?: unknown };
    try {
      req = JSON.parse(msg);
    } catch {
      return;
    }
    if (typeof req.id !== 'string') return;
    const h = this.#running.get(req.id);
    if (h !== undefined) {
      this.#abortRequested.add(req.id);
      h.abort(req.force === true ? { force: true, ...(typeof req.grace === 'number' ? { grace: req.grace } : {}) } : undefined);
      return;
    }
    // Not running here (yet): remember it in case this machine is about to start it.
    const now = Date.now();
    this.#recentAborts.set(req.id, now);
    for (const [id, t] of this.#recentAborts) {
      if (now - t < RECENT_ABORT_MS) break;
      this.#recentAborts.delete(id);
    }
  }

  /**
   * Drains gracefully: stops taking jobs, lets the running ones finish and
   * report, then closes the Redis connections. The runtime keeps running.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#closing = (async () => {
        await this.worker.close();
        await this.#sub.quit().catch(() => this.#sub.disconnect());
        await this.#ctl.quit().catch(() => this.#ctl.disconnect());
      })();
    }
    return this.#closing;
  }

  /** `await using machine = await serveQueue(...)`: `close()` when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function isRerun(job: Job): boolean {
  return (job.attemptsStarted ?? 0) > 1 || job.attemptsMade > 0 || (job.stalledCounter ?? 0) > 0;
}

function headline(panic: unknown): string {
  if (panic instanceof Error) return `${panic.name}: ${panic.message}`.split('\n')[0]!;
  try {
    return String(typeof panic === 'string' ? panic : JSON.stringify(panic)).split('\n')[0]!;
  } catch {
    return String(panic);
  }
}

/**
 * Serves a BullMQ queue on this machine: its jobs (sent by `bullRuntime().spawn`)
 * run on `runtime`. Resolves once Redis answers and the worker takes jobs;
 * rejects with a REDIS_UNAVAILABLE `SpindleError` if Redis does not answer
 * within `redisTimeout`.
 */
export async function serveQueue(opts: ServeQueueOptions): Promise<Machine> {
  const who = 'serveQueue()';
  if (typeof opts !== 'object' || opts === null) throw typeError(`spindle/bullmq: ${who} takes { connection, queue, runtime }`);
  for (const k of Object.keys(opts)) if (!OPTIONS.has(k)) throw typeError(`spindle/bullmq: ${who}: unknown option '${k}'. Allowed: ${[...OPTIONS].join(', ')}`);
  const queue = checkQueueName(opts.queue, who);
  const conn = resolveConnection(opts.connection, who);
  const runtime = opts.runtime;
  if (typeof runtime !== 'object' || runtime === null || typeof runtime.spawn !== 'function' || typeof runtime.workers !== 'number') {
    throw typeError(`spindle/bullmq: ${who}: runtime must be a spindle Runtime`);
  }
  const concurrency = opts.concurrency ?? runtime.workers * 4;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw typeError(`spindle/bullmq: ${who}: concurrency must be an integer ≥ 1, got ${String(concurrency)}`);
  if (opts.prefix !== undefined && (typeof opts.prefix !== 'string' || opts.prefix === '')) throw typeError(`spindle/bullmq: ${who}: prefix must be a non-empty string`);
  const prefix = opts.prefix ?? 'bull';
  const name = opts.name ?? `${hostname()}/${process.pid}`;
  if (typeof name !== 'string' || name === '') throw typeError(`spindle/bullmq: ${who}: name must be a non-empty string`);
  const redisTimeout = checkMs(opts.redisTimeout, 'redisTimeout', who) ?? 10_000;
  const worker = opts.worker ?? {};
  if (typeof worker !== 'object' || worker === null) throw typeError(`spindle/bullmq: ${who}: worker must be an object of BullMQ Worker options`);
  for (const k of Object.keys(worker)) {
    if (!WORKER_OPTIONS.has(k)) throw typeError(`spindle/bullmq: ${who}: worker option '${k}' is not passed through. Allowed: ${[...WORKER_OPTIONS].join(', ')}`);
  }
  for (const t of opts.tasks ?? []) {
    const url = t instanceof URL ? t.href : /^[a-z][a-z0-9+.-]*:/i.test(t) ? t : pathToFileURL(resolvePath(t)).href;
    await import(url);
  }
  const ctl = conn.open(`spindle:machine:${name}`);
  const sub = conn.open(`spindle:machine:${name}:abort`);
  try {
    await Promise.all([whenReady(ctl, conn.where, redisTimeout), whenReady(sub, conn.where, redisTimeout)]);
    // Listen for aborts before taking the first job.
    await sub.subscribe(abortChannel(prefix, queue));
  } catch (e) {
    ctl.disconnect();
    sub.disconnect();
    throw e;
  }
  const m = new Machine(name, queue, runtime, prefix, concurrency, ctl, sub, {
    ...worker,
    connection: conn.bull,
    prefix,
    concurrency,
    name,
  } as WorkerOptions);
  void m.worker.run().catch(() => {});
  await m.worker.waitUntilReady();
  return m;
}
