/**
 * The producer side of spindle/bullmq: `bullRuntime({ connection, queue })`
 * turns `spawn(task, ...args)` into a BullMQ job and gives back a handle with
 * the `JoinHandle` surface, settled by the queue's completion events.
 *
 * - Job ids are chosen here (`<producer>.<n>`), so a handle knows its id at
 *   once and is registered before its job exists: no completion can arrive
 *   for a job this producer does not know yet.
 * - Spawns made in one turn of the event loop are added with one `addBulk`
 *   per 500 jobs.
 * - Outcomes arrive through `QueueEvents`, read from the event stream position
 *   taken before the first job was added (nothing is missed at start). Events
 *   can still be lost (BullMQ trims the stream to about 10,000 entries), so a
 *   sweep reads the job hashes of handles that have waited a while; a job whose
 *   hash was removed before its outcome was read rejects with RESULT_LOST.
 * - A connection to Redis that is not ready for `redisTimeout` ms rejects every
 *   waiting handle with REDIS_UNAVAILABLE (never a hang).
 */
import { randomBytes } from 'node:crypto';
import { Queue, QueueEvents, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { ErrorCode, JoinError, SpindleError, typeError } from '../errors.js';
import { capture, captured, observeOnConstructorRead, type AbortOptions } from '../join.js';
import { checkMs, checkQueueName, resolveConnection, RedisWatch, whenReady, type RedisConnection } from './connection.js';
import { portableNameOf } from './names.js';
import { decodeResult, encodeJob, headlineOf, parseFailure, type JobData } from './wire.js';

/** BullMQ job options a remote spawn passes through. */
export type RemoteJobOptions = Pick<
  JobsOptions,
  'attempts' | 'backoff' | 'priority' | 'delay' | 'lifo' | 'removeOnComplete' | 'removeOnFail' | 'keepLogs' | 'stackTraceLimit'
>;

/** `spawnWith` options: BullMQ job options, and spindle's `signal` and `timeout` (ms, queued and running time). */
export interface RemoteSpawnOptions extends RemoteJobOptions {
  /** Aborting it aborts the job: a waiting job never runs, a running one has its task's signal fired. */
  signal?: AbortSignal;
  /** Milliseconds, queued and running time together, before the job is aborted. */
  timeout?: number;
}

const JOB_OPTIONS = ['attempts', 'backoff', 'priority', 'delay', 'lifo', 'removeOnComplete', 'removeOnFail', 'keepLogs', 'stackTraceLimit'];
const SPAWN_OPTIONS = new Set([...JOB_OPTIONS, 'signal', 'timeout']);

/** Options of {@link bullRuntime}. */
export interface BullRuntimeOptions {
  /** Where Redis is: a `redis://` URL, ioredis options, or an ioredis client (its options are used). */
  connection: RedisConnection;
  /** The BullMQ queue name; machines serve the same name. */
  queue: string;
  /** BullMQ's key prefix. Default `bull`. */
  prefix?: string;
  /**
   * Job options for every spawn (`spawnWith` overrides them). Default
   * `{ removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 } }`.
   */
  defaultJobOptions?: RemoteJobOptions;
  /** Milliseconds without a ready Redis connection before waiting handles reject. Default 10,000. */
  redisTimeout?: number;
  /** Milliseconds between checks of Redis for outcomes whose events were missed. Default 5,000. */
  sweepInterval?: number;
  /** Called with the error of a handle that failed and was dropped without being awaited. Default: one line on stderr. */
  onPanic?: (error: SpindleError) => void;
}

/** A remote task's failure: a `JoinError` (panic or cancelled) that also names the job, the task and the machine. */
export class RemoteJoinError extends JoinError {
  /** The BullMQ job id (the handle's `id`). */
  readonly jobId: string;
  /** The task's portable name. */
  readonly task: string;
  /** The machine the task ran on, where known. */
  readonly machine: string | undefined;

  /** @internal */
  constructor(seq: number, kind: 'panic' | 'cancelled', panic: unknown, message: string, jobId: string, task: string, machine: string | undefined) {
    super(seq, kind, panic, message);
    this.jobId = jobId;
    this.task = task;
    this.machine = machine;
  }
}

const PENDING = 0;
const OK = 1;
const ERR = 2;

/**
 * The producer's handle of a remote task, with the `JoinHandle` surface: await
 * it for the task's value; `abort()` cancels it (a waiting job is removed and
 * never runs; a running one has its task's `AbortSignal` fired on its machine);
 * `id` is the BullMQ job id. It settles exactly once.
 *
 * Like `JoinHandle`, a native `Promise` that learns it is observed when a
 * promise operation reads its `constructor` (join.ts says how): a failure
 * nobody observes is reported when the handle is dropped, never an unhandled
 * rejection.
 */
export class RemoteJoinHandle<T> extends Promise<T> {
  /** The BullMQ job id. */
  readonly id: string;
  /** The task's portable name. */
  readonly task: string;
  /** @internal */ readonly _seq: number;
  /** @internal */ _state = PENDING;
  /** @internal */ _value: unknown = undefined;
  /** @internal */ _added: Promise<boolean>;
  /** @internal */ _markAdded!: (ok: boolean) => void;
  /** @internal */ _addedAt = 0;
  /** @internal */ _missingSince = 0;
  /** @internal */ _cleanup: (() => void) | null = null;
  #owner: BullRuntime;
  /** Settles the native promise; null once it has. */
  #resolve: ((v: unknown) => void) | null;
  /** A promise operation read `constructor`: a reaction is attached now or in a moment. */
  #awaited = false;

  /** @internal Made by `BullRuntime.spawn`; not constructible from an executor. */
  constructor(owner: BullRuntime, id: string, seq: number, task: string) {
    if (!(owner instanceof BullRuntime)) throw typeError('spindle/bullmq: a RemoteJoinHandle is made by BullRuntime.spawn(), not constructed (use Promise.resolve, Promise.all for other promises)');
    super(capture as never);
    this.#resolve = captured();
    this.#owner = owner;
    this.id = id;
    this._seq = seq;
    this.task = task;
    this._added = new Promise((resolve) => (this._markAdded = resolve));
  }

  /** True once the task completed, failed or was cancelled (as far as this producer knows). */
  isFinished(): boolean {
    return this._state !== PENDING;
  }

  /**
   * Cancels the task: the handle rejects at once with a cancelled `JoinError`.
   * A job still waiting (or delayed) is removed and never runs; a running one
   * has its task's `AbortSignal` fired on the machine running it, and its job
   * fails without retries. `force` and `grace` are passed to that machine's
   * `abort()`. No effect once finished.
   */
  abort(opts?: AbortOptions): void {
    if (this._state !== PENDING) return;
    this._err(new RemoteJoinError(this._seq, 'cancelled', undefined, `task ${this.task} (job ${this.id}) was cancelled`, this.id, this.task, undefined));
    this.#owner._abortRemote(this as RemoteJoinHandle<unknown>, opts);
  }

  /** @internal */
  _abortWith(e: RemoteJoinError): void {
    if (this._state !== PENDING) return;
    this._err(e);
    this.#owner._abortRemote(this as RemoteJoinHandle<unknown>, undefined);
  }

  /** A handle that can abort the task but not await it. */
  abortHandle(): {
    /** The job id. */
    readonly id: string;
    /** Aborts the job, as {@link RemoteJoinHandle.abort}. */
    abort(opts?: AbortOptions): void;
    /** True once the handle has settled. */
    isFinished(): boolean;
  } {
    return { id: this.id, abort: (o) => this.abort(o), isFinished: () => this.isFinished() };
  }

  /** `'RemoteJoinHandle'`. */
  override get [Symbol.toStringTag](): string {
    return 'RemoteJoinHandle';
  }

  /** @internal A promise operation is about to attach a reaction: a failure settled unobserved is taken back and delivered. */
  _observe(): void {
    if (this.#awaited) return;
    this.#awaited = true;
    if (this._state === ERR) {
      this.#owner._observed(this as RemoteJoinHandle<unknown>);
      this.#settleNative();
    }
  }

  /** Delivers the settled outcome to the native promise (once). */
  #settleNative(): void {
    const r = this.#resolve;
    if (r === null) return;
    this.#resolve = null;
    r(this._state === OK ? this._value : Promise.reject(this._value));
  }

  #settled(): void {
    this.#owner._settled(this as RemoteJoinHandle<unknown>);
    const c = this._cleanup;
    if (c !== null) {
      this._cleanup = null;
      c();
    }
  }

  /** @internal */
  _ok(value: unknown): void {
    if (this._state !== PENDING) return;
    this._state = OK;
    this._value = value;
    this.#settled();
    this.#settleNative();
  }

  /** @internal */
  _err(e: SpindleError): void {
    if (this._state !== PENDING) return;
    this._state = ERR;
    this._value = e;
    this.#settled();
    if (this.#awaited) this.#settleNative();
    else if (!(e instanceof JoinError && e.isCancelled())) this.#owner._unobserved(this as RemoteJoinHandle<unknown>, e);
  }
}

observeOnConstructorRead(RemoteJoinHandle);

interface Pending {
  h: RemoteJoinHandle<unknown>;
  data: JobData;
  opts: JobsOptions;
}

const BATCH = 500;

function defaultOnPanic(e: SpindleError): void {
  process.stderr.write(`spindle/bullmq: detached ${e.message.split('\n')[0]}\n`);
}

function checkJobOptions(o: unknown, who: string, allowed: Set<string>): Record<string, unknown> {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw typeError(`spindle/bullmq: ${who} must be an object`);
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) {
      throw typeError(
        `spindle/bullmq: ${who}: unknown or unsupported option '${k}'. Allowed: ${[...allowed].join(', ')} ` +
          '(spindle chooses job ids, and a handle stands for one run: no repeat, parent or deduplication).',
      );
    }
  }
  return o as Record<string, unknown>;
}

/**
 * Sends tasks to the machines serving a BullMQ queue. Create it with
 * `bullRuntime()`; close it with `close()` (or `await using`).
 */
export class BullRuntime implements AsyncDisposable {
  /** The queue name. */
  readonly queue: string;
  /** An id for this producer, the prefix of its job ids. */
  readonly producerId = randomBytes(6).toString('hex');
  readonly #conn: ReturnType<typeof resolveConnection>;
  readonly #prefix: string;
  readonly #defaults: JobsOptions;
  readonly #redisTimeout: number;
  readonly #sweepInterval: number;
  readonly #onPanic: (e: SpindleError) => void;
  readonly #unobserved = new FinalizationRegistry<SpindleError>((e) => this.#onPanic(e));
  readonly #ctl: Redis;
  readonly #watch: RedisWatch;
  #bull: Queue | null = null;
  #events: QueueEvents | null = null;
  readonly #started: Promise<void>;
  /** Set while Redis has been unreachable for longer than redisTimeout: spawns fail at once. */
  #down: SpindleError | null = null;
  #closing: Promise<void> | null = null;
  #seq = 0;
  readonly #pending = new Map<string, RemoteJoinHandle<unknown>>();
  #batch: Pending[] = [];
  #flushing = false;
  #sweeper: NodeJS.Timeout | undefined;
  #idle: (() => void) | null = null;
  #counts = { spawned: 0, completed: 0, failed: 0, cancelled: 0 };

  /** @internal use bullRuntime() */
  constructor(opts: BullRuntimeOptions) {
    if (typeof opts !== 'object' || opts === null) throw typeError('spindle/bullmq: bullRuntime() takes { connection, queue }');
    const who = 'bullRuntime()';
    checkJobOptions(opts, who, new Set(['connection', 'queue', 'prefix', 'defaultJobOptions', 'redisTimeout', 'sweepInterval', 'onPanic']));
    this.queue = checkQueueName(opts.queue, who);
    this.#conn = resolveConnection(opts.connection, who);
    if (opts.prefix !== undefined && (typeof opts.prefix !== 'string' || opts.prefix === '')) throw typeError(`spindle/bullmq: ${who}: prefix must be a non-empty string`);
    this.#prefix = opts.prefix ?? 'bull';
    const defaults = opts.defaultJobOptions === undefined ? {} : checkJobOptions(opts.defaultJobOptions, `${who} defaultJobOptions`, new Set(JOB_OPTIONS));
    this.#defaults = { removeOnComplete: { age: 3600 }, removeOnFail: { age: 86400 }, ...defaults } as JobsOptions;
    this.#redisTimeout = checkMs(opts.redisTimeout, 'redisTimeout', who) ?? 10_000;
    this.#sweepInterval = checkMs(opts.sweepInterval, 'sweepInterval', who, 10) ?? 5_000;
    if (opts.onPanic !== undefined && typeof opts.onPanic !== 'function') throw typeError(`spindle/bullmq: ${who}: onPanic must be a function`);
    this.#onPanic = opts.onPanic ?? defaultOnPanic;
    this.#ctl = this.#conn.open(`spindle:producer:${this.producerId}`);
    this.#watch = new RedisWatch(this.#ctl, this.#conn.where, this.#redisTimeout, () => this.#lost(), () => (this.#down = null));
    this.#started = this.#start();
    this.#started.catch(() => {}); // reported through ready() and the handles
  }

  async #start(): Promise<void> {
    // No timeout here: the watch rejects what waits; this goes on once Redis answers.
    await new Promise<void>((resolve) => (this.#ctl.status === 'ready' ? resolve() : this.#ctl.once('ready', () => resolve())));
    const bull = new Queue(this.queue, { connection: this.#conn.bull, prefix: this.#prefix });
    bull.on('error', () => {});
    this.#bull = bull;
    await bull.waitUntilReady();
    // Read completions from here on: every job this producer adds comes after.
    const last = (await this.#ctl.xrevrange(`${this.#prefix}:${this.queue}:events`, '+', '-', 'COUNT', 1)) as [string, string[]][];
    if (this.#closing !== null) return; // closed meanwhile: open nothing more
    const events = new QueueEvents(this.queue, {
      connection: this.#conn.bull,
      prefix: this.#prefix,
      lastEventId: last.length > 0 ? last[0]![0] : '0-0',
    });
    events.on('error', () => {});
    events.on('completed', ({ jobId, returnvalue }) => this.#completed(jobId, returnvalue));
    events.on('failed', ({ jobId, failedReason }) => this.#failed(jobId, failedReason));
    this.#events = events;
    await events.waitUntilReady();
  }

  /**
   * Resolves once Redis answers (again, after a loss) and the queue is ready;
   * rejects with a REDIS_UNAVAILABLE `SpindleError` if it does not within
   * `redisTimeout`. Optional: spawns made before are sent once it is ready.
   */
  async ready(): Promise<void> {
    if (this.#closing !== null) throw new SpindleError(ErrorCode.SHUT_DOWN, 'spindle/bullmq: this bullRuntime is closed');
    if (this.#ctl.status !== 'ready') await whenReady(this.#ctl, this.#conn.where, this.#redisTimeout);
    await this.#started;
  }

  /**
   * Sends `task(...args)` to the machines serving this queue and returns its
   * handle at once. `task` is a task defined with `task('name', fn)` (or
   * `task(import.meta.url, fn)`, sent under its derived name); the arguments
   * must be plain data (TypeError naming the argument otherwise).
   */
  spawn<A extends unknown[], R>(task: (...args: A) => R, ...args: A): RemoteJoinHandle<Awaited<R>> {
    return this.#spawn(undefined, task, args) as RemoteJoinHandle<Awaited<R>>;
  }

  /**
   * `spawn` with options: BullMQ's `attempts`, `backoff`, `priority`, `delay`,
   * `lifo`, `removeOnComplete`, `removeOnFail`, `keepLogs`, `stackTraceLimit`,
   * and spindle's `signal` (aborts the handle) and `timeout` (ms, cancels the
   * task if it has not finished by then).
   */
  spawnWith<A extends unknown[], R>(options: RemoteSpawnOptions, task: (...args: A) => R, ...args: A): RemoteJoinHandle<Awaited<R>> {
    return this.#spawn(options, task, args) as RemoteJoinHandle<Awaited<R>>;
  }

  #spawn(options: RemoteSpawnOptions | undefined, task: Function, args: unknown[]): RemoteJoinHandle<unknown> {
    if (this.#closing !== null) throw new SpindleError(ErrorCode.SHUT_DOWN, `spindle/bullmq: spawn() after close(): this bullRuntime (queue ${this.queue}) no longer sends tasks`);
    let jobOpts: JobsOptions = this.#defaults;
    let signal: AbortSignal | undefined;
    let timeout: number | undefined;
    if (options !== undefined) {
      const o = checkJobOptions(options, 'spawnWith() options', SPAWN_OPTIONS);
      signal = o.signal as AbortSignal | undefined;
      if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError('spindle/bullmq: spawnWith(): signal must be an AbortSignal');
      timeout = checkMs(o.timeout, 'timeout', 'spawnWith()', 0);
      const rest: Record<string, unknown> = {};
      for (const k of JOB_OPTIONS) if (o[k] !== undefined) rest[k] = o[k];
      jobOpts = { ...jobOpts, ...rest };
    }
    const name = portableNameOf(task);
    const data = encodeJob(name, args);
    const seq = ++this.#seq;
    const id = `${this.producerId}.${seq}`;
    const h = new RemoteJoinHandle<unknown>(this, id, seq, name);
    this.#pending.set(id, h);
    this.#counts.spawned++;
    if (this.#down !== null) {
      h._markAdded(false);
      h._err(this.#down);
      return h;
    }
    this.#batch.push({ h, data, opts: { ...jobOpts, jobId: id } });
    if (!this.#flushing) {
      this.#flushing = true;
      queueMicrotask(() => void this.#flush());
    }
    if (signal !== undefined || timeout !== undefined) this.#withOptions(h, signal, timeout);
    if (this.#sweeper === undefined) {
      this.#sweeper = setInterval(() => void this.#sweep(), this.#sweepInterval);
      this.#sweeper.unref();
    }
    return h;
  }

  #withOptions(h: RemoteJoinHandle<unknown>, signal: AbortSignal | undefined, timeout: number | undefined): void {
    if (signal?.aborted) {
      h.abort();
      return;
    }
    const onAbort = (): void => h.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer =
      timeout === undefined
        ? undefined
        : setTimeout(
            () =>
              h._abortWith(
                new RemoteJoinError(h._seq, 'cancelled', undefined, `task ${h.task} (job ${h.id}) was cancelled: it did not finish within its timeout of ${timeout} ms`, h.id, h.task, undefined),
              ),
            timeout,
          );
    h._cleanup = () => {
      signal?.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    };
  }

  async #flush(): Promise<void> {
    try {
      await this.#started;
    } catch (e) {
      // The queue could not be set up (Redis too old, say): nothing can be sent.
      for (const p of this.#batch.splice(0)) {
        p.h._markAdded(false);
        p.h._err(new SpindleError(ErrorCode.REDIS_UNAVAILABLE, `spindle/bullmq: queue ${this.queue} could not be set up: ${(e as Error).message}`, { cause: e }));
      }
      this.#flushing = false;
      return;
    }
    while (this.#batch.length > 0) {
      const batch = this.#batch.splice(0, BATCH);
      // A handle aborted (or rejected) before its job was added: its job is never added.
      const live = batch.filter((p) => {
        if (p.h.isFinished()) p.h._markAdded(false);
        return !p.h.isFinished();
      });
      if (live.length === 0) continue;
      try {
        await this.#bull!.addBulk(live.map((p) => ({ name: p.data.t, data: p.data, opts: p.opts })));
        const now = Date.now();
        for (const p of live) {
          p.h._addedAt = now;
          p.h._markAdded(true);
        }
      } catch (e) {
        for (const p of live) {
          p.h._markAdded(false);
          p.h._err(new SpindleError(ErrorCode.REDIS_UNAVAILABLE, `spindle/bullmq: adding job ${p.h.id} (task ${p.h.task}) to queue ${this.queue} failed: ${(e as Error).message}`, { cause: e }));
        }
      }
    }
    this.#flushing = false;
  }

  #completed(jobId: string, returnvalue: unknown): void {
    const h = this.#pending.get(jobId);
    if (h === undefined) return;
    let value: unknown;
    try {
      value = decodeResult(returnvalue, jobId);
    } catch (e) {
      h._err(e as SpindleError);
      return;
    }
    this.#counts.completed++;
    h._ok(value);
  }

  #failed(jobId: string, reason: string): void {
    const h = this.#pending.get(jobId);
    if (h === undefined) return;
    h._err(this.#failure(h, String(reason)));
  }

  #failure(h: RemoteJoinHandle<unknown>, reason: string): SpindleError {
    let f;
    try {
      f = parseFailure(reason, h.id);
    } catch (e) {
      return e as SpindleError;
    }
    if (f === undefined) {
      // Failed by BullMQ itself (a job stalled more times than allowed, say).
      this.#counts.failed++;
      const e = new Error(reason);
      return new RemoteJoinError(h._seq, 'panic', e, `task ${h.task} (job ${h.id}) failed: ${reason}`, h.id, h.task, undefined);
    }
    if (f.kind === 'cancelled') {
      this.#counts.cancelled++;
      return new RemoteJoinError(h._seq, 'cancelled', undefined, `task ${h.task} (job ${h.id}) was cancelled on machine ${f.machine}`, h.id, h.task, f.machine);
    }
    this.#counts.failed++;
    // spindle's own refusals (unknown task, unreadable job) fail the task; anything else is the task's panic.
    const own = f.error instanceof SpindleError && f.error.message.startsWith('spindle/bullmq:');
    const what = own ? 'failed' : 'panicked';
    return new RemoteJoinError(h._seq, 'panic', f.error, `task ${h.task} (job ${h.id}) ${what} on machine ${f.machine}: ${headlineOf(reason)}`, h.id, h.task, f.machine);
  }

  /** @internal */
  _settled(h: RemoteJoinHandle<unknown>): void {
    this.#pending.delete(h.id);
    if (this.#pending.size === 0) {
      clearInterval(this.#sweeper);
      this.#sweeper = undefined;
      const idle = this.#idle;
      this.#idle = null;
      idle?.();
    }
  }

  /** @internal A handle failed while nobody awaited it: reported if it is dropped unawaited (as local handles are). */
  _unobserved(h: RemoteJoinHandle<unknown>, e: SpindleError): void {
    this.#unobserved.register(h, e, h);
  }

  /** @internal */
  _observed(h: RemoteJoinHandle<unknown>): void {
    this.#unobserved.unregister(h);
  }

  /** @internal The handle was aborted: remove its job, or have its machine abort it. */
  _abortRemote(h: RemoteJoinHandle<unknown>, opts: AbortOptions | undefined): void {
    this.#counts.cancelled++;
    void (async () => {
      if (!(await h._added)) return; // never added: it never runs
      const msg = JSON.stringify({ id: h.id, force: opts?.force === true, grace: opts?.grace });
      // First the mark (a machine that picks the job up later, after a stall, sees it),
      // then the removal (a waiting job), and only if it is running, the message.
      await this.#ctl.set(abortKey(this.#prefix, this.queue, h.id), msg, 'EX', 86_400);
      const removed = await this.#bull!.remove(h.id);
      if (removed !== 1) await this.#ctl.publish(abortChannel(this.#prefix, this.queue), msg);
    })().catch((e: Error) => {
      process.stderr.write(`spindle/bullmq: abort of job ${h.id} could not reach Redis (${e.message}); the job may still run\n`);
    });
  }

  /** Redis was not ready for redisTimeout: reject every waiting handle. */
  #lost(): void {
    const err = this.#watch.error(this.#pending.size);
    this.#down = err;
    for (const h of [...this.#pending.values()]) h._err(err);
  }

  /** @internal Sweeps that read job hashes (tests wait on it). */
  _sweeps = 0;

  /** Reads the job hashes of handles that have waited a while, for outcomes whose events were missed. */
  async #sweep(): Promise<void> {
    if (!this.#watch.up || this.#bull === null) return;
    const now = Date.now();
    const old = [...this.#pending.values()].filter((h) => h._addedAt > 0 && now - h._addedAt >= this.#sweepInterval);
    for (let i = 0; i < old.length; i += 1000) {
      const chunk = old.slice(i, i + 1000);
      const p = this.#ctl.pipeline();
      // `timestamp` is set on every job when it is added: a null one is a job that is gone (a job
      // still waiting or running has no finishedOn, returnvalue or failedReason yet).
      for (const h of chunk) p.hmget(`${this.#prefix}:${this.queue}:${h.id}`, 'timestamp', 'finishedOn', 'returnvalue', 'failedReason');
      let rows: [Error | null, unknown][] | null;
      try {
        rows = await p.exec();
      } catch {
        return;
      }
      if (rows === null) return;
      chunk.forEach((h, j) => {
        const [err, v] = rows![j]!;
        if (err !== null || h.isFinished()) return;
        const [timestamp, finishedOn, returnvalue, failedReason] = v as (string | null)[];
        if (timestamp === null) {
          // The job is gone. Its event may still be on its way: give it one more interval.
          if (h._missingSince === 0) h._missingSince = now;
          else if (now - h._missingSince >= this.#sweepInterval) {
            h._err(
              new SpindleError(
                ErrorCode.RESULT_LOST,
                `spindle/bullmq: job ${h.id} (task ${h.task}) is no longer in Redis and its outcome never reached this producer ` +
                  '(removed before its completion event was read: removeOnComplete/removeOnFail too short, or the job was removed by hand)',
              ),
            );
          }
          return;
        }
        if (finishedOn === null) return; // still to run (or to retry)
        if (returnvalue !== null) {
          let rv: unknown;
          try {
            rv = JSON.parse(returnvalue);
          } catch {
            rv = returnvalue;
          }
          this.#completed(h.id, rv);
        } else this.#failed(h.id, failedReason ?? 'unknown failure');
      });
    }
    if (old.length > 0) this._sweeps++;
  }

  /** Counters of this producer. */
  metrics(): {
    /** Handles created. */
    spawned: number;
    /** Handles not settled yet. */
    pending: number;
    /** Handles that resolved. */
    completed: number;
    /** Handles that rejected with a panic. */
    failed: number;
    /** Handles that were cancelled. */
    cancelled: number;
  } {
    return { ...this.#counts, pending: this.#pending.size };
  }

  /**
   * Stops sending tasks, waits for the handles still waiting (at most
   * `timeout` ms, then they reject with a SHUT_DOWN error: their jobs stay
   * queued), and closes the Redis connections.
   */
  close(opts: { timeout?: number } = {}): Promise<void> {
    if (this.#closing === null) this.#closing = this.#close(checkMs(opts.timeout, 'timeout', 'close()', 0));
    return this.#closing;
  }

  async #close(timeout: number | undefined): Promise<void> {
    if (this.#pending.size > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve));
      if (timeout === undefined) await idle;
      else {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([idle, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeout)))]);
        clearTimeout(timer);
        for (const h of [...this.#pending.values()]) {
          h._err(new SpindleError(ErrorCode.SHUT_DOWN, `spindle/bullmq: close() timed out before job ${h.id} (task ${h.task}) finished; the job stays queued and may still run`));
        }
      }
    }
    clearInterval(this.#sweeper);
    this.#watch.stop();
    const up = this.#ctl.status === 'ready';
    if (up) {
      await this.#events?.close().catch(() => {});
      await this.#bull?.close().catch(() => {});
      await this.#ctl.quit().catch(() => {});
    } else {
      void this.#events?.close().catch(() => {});
      void this.#bull?.disconnect().catch(() => {});
      this.#ctl.disconnect();
    }
  }

  /** `await using remote = bullRuntime(...)`: `close()` when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

export const abortKey = (prefix: string, queue: string, id: string): string => `${prefix}:${queue}:spindle:abort:${id}`;
export const abortChannel = (prefix: string, queue: string): string => `${prefix}:${queue}:spindle:abort`;

/**
 * A producer for the machines serving `queue`: `spawn` / `spawnWith` send
 * tasks as BullMQ jobs and return handles with the `JoinHandle` surface.
 */
export function bullRuntime(opts: BullRuntimeOptions): BullRuntime {
  return new BullRuntime(opts);
}
