/** Runtime options, validated in one place. */
import { availableParallelism } from 'node:os';
import type { ResourceLimits } from 'node:worker_threads';
import { ERR_OPTION, ERR_UNKNOWN_OPTION, ERR_WORKERS, checkOptionsObject, typeError, rangeError } from './errors.js';
import type { JoinError } from './errors.js';

/**
 * Options for `new Runtime(options)`.
 *
 * @example
 * ```ts
 * const rt = new Runtime({ workers: 4, onPanic: (e) => console.error(e) });
 * ```
 */
export interface RuntimeOptions {
  /** Worker threads. Default: `os.availableParallelism()`. An integer from 1 to 1024. */
  workers?: number;
  /**
   * Tasks that can be in shared memory at once (queued or running); more are
   * kept on the spawning thread and published as slots free up, so `spawn`
   * never blocks and never drops. A power of two from 256 to 2^20. Default 32768.
   */
  queueCapacity?: number;
  /** Capacity of each worker's deque, a power of two from 16 to 65536. Default 1024. */
  dequeCapacity?: number;
  /** Called with the `JoinError` of a task that panicked and whose handle nobody awaited. Default: one line on stderr. */
  onPanic?: (error: JoinError) => void;
  /**
   * Passed to each `Worker` (e.g. `maxOldGenerationSizeMb`). Default
   * `{ maxYoungGenerationSizeMb: 12 }` (V8's own default is 48): a worker's
   * young generation then grows to 8 MB instead of 32, which keeps the RSS of
   * a worker whose tasks allocate a lot a third lower at the same speed
   * (measured in docs/benchmarks.md). Given keys replace the default's.
   */
  resourceLimits?: ResourceLimits;
}

export interface ResolvedOptions {
  workers: number;
  queueCapacity: number;
  dequeCapacity: number;
  onPanic: (error: JoinError) => void;
  resourceLimits: ResourceLimits;
}

/** Worker heap limits unless the user gives their own (see {@link RuntimeOptions.resourceLimits}). */
export const DEFAULT_RESOURCE_LIMITS: Readonly<ResourceLimits> = { maxYoungGenerationSizeMb: 12 };

const KNOWN = new Set(['workers', 'queueCapacity', 'dequeCapacity', 'onPanic', 'resourceLimits']);

const isPow2 = (n: unknown, lo: number, hi: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi && (n & (n - 1)) === 0;

export function defaultPanicHook(e: JoinError): void {
  process.stderr.write(`spindle: detached ${e.message}\n`);
}

export function resolveOptions(opts: RuntimeOptions = {}): ResolvedOptions {
  if (typeof opts !== 'object' || opts === null) throw typeError(ERR_OPTION('options', 'an object', opts));
  for (const k of Object.keys(opts)) if (!KNOWN.has(k)) throw typeError(ERR_UNKNOWN_OPTION(k));
  const workers = opts.workers ?? availableParallelism();
  if (typeof workers !== 'number' || !Number.isInteger(workers) || workers < 1 || workers > 1024) {
    throw rangeError(ERR_WORKERS(workers));
  }
  const queueCapacity = opts.queueCapacity ?? 1 << 15;
  if (!isPow2(queueCapacity, 256, 1 << 20)) {
    throw rangeError(ERR_OPTION('queueCapacity', 'a power of two from 256 to 1048576', queueCapacity));
  }
  const dequeCapacity = opts.dequeCapacity ?? 1024;
  if (!isPow2(dequeCapacity, 16, 1 << 16)) {
    throw rangeError(ERR_OPTION('dequeCapacity', 'a power of two from 16 to 65536', dequeCapacity));
  }
  const onPanic = opts.onPanic ?? defaultPanicHook;
  if (typeof onPanic !== 'function') throw typeError(ERR_OPTION('onPanic', 'a function', onPanic));
  return { workers, queueCapacity, dequeCapacity, onPanic, resourceLimits: { ...DEFAULT_RESOURCE_LIMITS, ...checkResourceLimits(opts.resourceLimits) } };
}

const LIMITS = ['maxYoungGenerationSizeMb', 'maxOldGenerationSizeMb', 'codeRangeSizeMb', 'stackSizeMb'] as const;

/** `resourceLimits` as Node's `Worker` takes it: an object of positive numbers (MB), known keys only. */
function checkResourceLimits(r: unknown): ResourceLimits | undefined {
  if (r === undefined) return undefined;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) {
    throw typeError(ERR_OPTION('resourceLimits', `an object with any of ${LIMITS.join(', ')}`, r));
  }
  for (const [k, v] of Object.entries(r)) {
    if (!(LIMITS as readonly string[]).includes(k)) {
      throw typeError(`spindle: unknown resourceLimits option '${k}' (expected ${LIMITS.join(', ')})`);
    }
    if (typeof v !== 'number' || !(v > 0) || !Number.isFinite(v)) {
      throw rangeError(ERR_OPTION(`resourceLimits.${k}`, 'a positive number of megabytes', v));
    }
  }
  return r as ResourceLimits;
}

/** Options for `Runtime.shutdown(options)`. */
export interface ShutdownOptions {
  /** Milliseconds to wait for queued and running tasks; then the rest is cancelled as by `shutdownNow()`. */
  timeout?: number;
}

/**
 * Options for `spawnWith(options, task, ...args)`.
 *
 * @example
 * ```ts
 * const h = spawnWith({ timeout: 1000, signal: request.signal }, render, page);
 * ```
 */
export interface SpawnOptions {
  /** Aborting this signal aborts the task. */
  signal?: AbortSignal;
  /** Milliseconds the task may take, queued and running together; then it is aborted. */
  timeout?: number;
}

export function checkSpawnOptions(o: SpawnOptions): void {
  if (typeof o !== 'object' || o === null) throw typeError(ERR_OPTION('spawnWith options', 'an object', o));
  checkOptionsObject(o, 'spawnWith(options, task, ...args)', '{ signal?, timeout? }');
  for (const k of Object.keys(o)) {
    if (k !== 'signal' && k !== 'timeout') throw typeError(`spindle: unknown spawnWith option '${k}' (expected signal, timeout)`);
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw typeError(ERR_OPTION('signal', 'an AbortSignal', o.signal));
  if (o.timeout !== undefined && (typeof o.timeout !== 'number' || !(o.timeout > 0) || !Number.isFinite(o.timeout))) {
    throw rangeError(ERR_OPTION('timeout', 'a positive, finite number of milliseconds', o.timeout));
  }
}

/**
 * Options for `map(task, inputs, options)` and `Runtime.map`.
 *
 * @example
 * ```ts
 * const out = await rt.map(resize, images, { chunk: 1, signal: request.signal });
 * ```
 */
export interface MapOptions {
  /**
   * Items per task (chunk): a positive integer. Default: chosen from the
   * input's length and the number of workers (see `Runtime.map`). Pass `1`
   * when each item is heavy work (milliseconds), so that every item can be
   * stolen on its own.
   */
  chunk?: number;
  /** Aborting this signal cancels every chunk not yet finished; the map rejects with a cancelled `JoinError`. */
  signal?: AbortSignal;
}

/** The validated form of {@link MapOptions}: `chunk` is 0 when it is to be chosen automatically. */
export interface ResolvedMapOptions {
  chunk: number;
  signal: AbortSignal | undefined;
}

/** Validates `map()`'s options: TypeError / RangeError naming the option and what is allowed. */
export function checkMapOptions(o: MapOptions | undefined): ResolvedMapOptions {
  if (o === undefined) return { chunk: 0, signal: undefined };
  if (typeof o !== 'object' || o === null) throw typeError(ERR_OPTION('map() options', 'an object { chunk?, signal? }', o));
  checkOptionsObject(o, 'map(task, inputs, options)', '{ chunk?, signal? }');
  for (const k of Object.keys(o)) {
    if (k !== 'chunk' && k !== 'signal') throw typeError(`spindle: unknown map() option '${k}' (expected chunk, signal)`);
  }
  const { chunk, signal } = o;
  if (chunk !== undefined) {
    if (typeof chunk !== 'number') throw typeError(ERR_OPTION('chunk', 'a positive integer (items per task)', chunk));
    if (!Number.isSafeInteger(chunk) || chunk < 1) throw rangeError(ERR_OPTION('chunk', 'a positive integer (items per task)', chunk));
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw typeError(ERR_OPTION('signal', 'an AbortSignal', signal));
  return { chunk: chunk ?? 0, signal };
}
