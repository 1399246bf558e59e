/**
 * The bulk path: `map(task, inputs, options)` — rayon's `par_iter().map()`
 * on spindle tasks. One task per chunk of items, not per item: a chunk task
 * (map-chunk.ts) gets the chunk's items and returns the results, so the
 * per-task cost (a slot, an encode, a queue push, a completion) is paid once
 * per chunk.
 *
 * The chunks are ordinary tasks: from the main thread they go to the
 * injector, from inside a task onto the current worker's deque (fork-join),
 * and idle workers steal them like any task. Results are put back in input
 * order. The map owns its chunks' handles as a JoinSet owns its tasks: a
 * failure or the signal aborts every chunk not yet finished.
 */
import { workerHost } from '../context.js';
import { ErrorCode, JoinError, joinError, panicMessage, typeError } from '../errors.js';
import { nextTaskId } from '../ids.js';
import type { JoinHandle } from '../join.js';
import { checkMapOptions, type MapOptions } from '../options.js';
import { Runtime } from '../runtime.js';
import { chunkTaskOf, type ChunkFailure } from './map-chunk.js';

/** Spawns chunk task `stub` (map-chunk.ts `chunkTaskOf`) with its arguments: the runtime's spawn, or the worker's. */
export type ChunkSpawn = (stub: Function, items: ArrayLike<unknown>, start: number) => JoinHandle<unknown>;

/** Chunks per worker the automatic size aims at: enough for idle workers to steal from busy ones. */
export const CHUNKS_PER_WORKER = 8;
/** The smallest automatic chunk (unless the input is short): a chunk must amortize its task's cost (a few µs). */
export const MIN_CHUNK = 256;
/** The largest automatic chunk: bounds a chunk's payload and lets the first results come back while later chunks run. */
export const MAX_CHUNK = 8192;

/**
 * The automatic chunk size for `n` items on `workers` workers:
 * `ceil(n / (8 × workers))`, raised to at least 256 items (but never above
 * `ceil(n / workers)`, so that a short input still gives each worker a
 * chunk), and capped at 8192 items.
 */
export function autoChunk(n: number, workers: number): number {
  const size = Math.max(Math.ceil(n / (workers * CHUNKS_PER_WORKER)), Math.min(MIN_CHUNK, Math.ceil(n / workers)));
  return Math.max(1, Math.min(size, MAX_CHUNK));
}

type Items = unknown[] | (ArrayLike<unknown> & { subarray(start: number, end: number): ArrayLike<unknown> });

/** The input as something that can be cut into chunks: an array as it is, a typed array by views, anything else copied into an array. */
function itemsOf(inputs: unknown): Items {
  if (Array.isArray(inputs)) return inputs;
  if (ArrayBuffer.isView(inputs) && !(inputs instanceof DataView)) return inputs as unknown as Items;
  if (typeof inputs === 'string') return Array.from(inputs);
  if (typeof inputs === 'object' && inputs !== null) {
    if (typeof (inputs as Iterable<unknown>)[Symbol.iterator] === 'function') return Array.from(inputs as Iterable<unknown>);
    if (typeof (inputs as ArrayLike<unknown>).length === 'number') return Array.from(inputs as ArrayLike<unknown>);
  }
  throw typeError(`spindle: map(task, inputs): inputs must be an array, a typed array, an array-like or an iterable, got ${describe(inputs)}`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

/** The codec names a chunk's bad item "argument 1 (at [j]…)": say which item of the input it is. */
function itemError(e: unknown, start: number): unknown {
  if (!(e instanceof TypeError)) return e;
  const m = /^spindle: argument 1 \(at \[(\d+)\](.*?)\) is /.exec(e.message);
  if (m === null) return e;
  const rest = m[2] === '' ? '' : ` (at ${m[2]})`;
  const message = `spindle: map() item ${start + Number(m[1])}${rest} is ${e.message.slice(m[0].length)}`;
  return Object.assign(new TypeError(message, { cause: e }), { code: (e as { code?: unknown }).code ?? ErrorCode.NOT_SENDABLE });
}

/**
 * Validates, cuts the input into chunks and spawns them (synchronously: bad
 * options, inputs or items throw here), then resolves with every result in
 * input order.
 */
export function runMap(spawnChunk: ChunkSpawn, workers: number, task: unknown, inputs: unknown, options: MapOptions | undefined): Promise<unknown[]> {
  const { chunk, signal } = checkMapOptions(options);
  if (typeof task !== 'function') {
    throw typeError(`spindle: map(task, inputs) takes a task (task(import.meta.url, fn)) or an inline function that captures nothing, got ${describe(task)}`);
  }
  const stub = chunkTaskOf(task); // TypeError for a native function
  const items = itemsOf(inputs);
  const n = items.length;
  if (signal?.aborted) return Promise.reject(joinError(nextTaskId(), 'cancelled', undefined, 'map() was cancelled: its signal was aborted before it started'));
  if (n === 0) return Promise.resolve([]);
  const size = chunk === 0 ? autoChunk(n, workers) : chunk;
  const count = Math.ceil(n / size);
  const handles = new Array<JoinHandle<unknown>>(count);
  for (let k = 0, start = 0; k < count; k++, start += size) {
    const end = Math.min(n, start + size);
    const part = count === 1 ? items : Array.isArray(items) ? items.slice(start, end) : items.subarray(start, end);
    try {
      handles[k] = spawnChunk(stub, part, start);
    } catch (e) {
      for (let j = 0; j < k; j++) handles[j]!.abort();
      throw itemError(e, start);
    }
  }
  return collect(handles, size, n, signal);
}

/** Resolves with the chunks' results in order; the first failure (or the signal) aborts the chunks not yet finished. */
function collect(handles: JoinHandle<unknown>[], size: number, n: number, signal: AbortSignal | undefined): Promise<unknown[]> {
  return new Promise<unknown[]>((resolve, reject) => {
    const count = handles.length;
    const parts = new Array<unknown[]>(count);
    let left = count;
    let settled = false;
    const finish = (e: unknown): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      for (const h of handles) h.abort();
      reject(e);
    };
    const onAbort = (): void => {
      const first = handles.find((h) => !h.isFinished()) ?? handles[0]!;
      finish(joinError(first.id, 'cancelled', undefined, `map() was cancelled by its signal (task ${first.id} and every other chunk not yet finished were aborted)`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    for (let k = 0; k < count; k++) {
      const h = handles[k]!;
      const start = k * size;
      h.then(
        (v) => {
          if (settled) return;
          if (!Array.isArray(v)) {
            const f = v as ChunkFailure;
            finish(joinError(h.id, 'panic', f.error, `task ${h.id} panicked at map() item ${f.failed}: ${panicMessage(f.error)}`, f.failed));
            return;
          }
          parts[k] = v;
          if (--left > 0) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(count === 1 ? parts[0]! : concat(parts, n));
        },
        (e: unknown) => {
          if (settled) return;
          if (e instanceof JoinError && e.isPanic()) {
            // The chunk itself failed (its task's module did not load, a result could not cross): say which items.
            const last = Math.min(n, start + size) - 1;
            finish(joinError(e.id, 'panic', e.intoPanic(), `${e.message} (map() items ${start}–${last})`));
            return;
          }
          finish(e);
        },
      );
    }
  });
}

/** The parts joined into one array of `n` items. */
function concat(parts: unknown[][], n: number): unknown[] {
  // concat is a native copy; the spread is bounded (a map of n items has at most n / chunk parts, but the
  // engine's argument limit is far above any sane count: cut anyway at 32k parts).
  if (parts.length <= 32_768) return ([] as unknown[]).concat(...parts);
  const out = new Array<unknown>(n);
  let at = 0;
  for (const p of parts) for (let i = 0; i < p.length; i++) out[at++] = p[i];
  return out;
}

/**
 * Applies `task` to every item of `inputs` on the runtime's workers and
 * resolves with the results in input order — the bulk path (rayon's
 * `par_iter().map()`): one task per chunk of items, not per item.
 *
 * - On the main thread it runs on the default runtime (`Runtime.default()`),
 *   as `spawn` does; inside a task its chunks go onto the current worker's
 *   deque and idle workers steal them (fork-join).
 * - See {@link Runtime.map} for the chunk size, errors and cancellation.
 *
 * ```ts
 * const squares = await map((x: number) => x * x, [1, 2, 3]); // [1, 4, 9]
 * ```
 *
 * @param task - a task defined with `task(import.meta.url, fn)`, or an inline function that captures nothing; called with one item
 * @param inputs - an array, a typed array, an array-like or an iterable (copied into an array first)
 * @param options - `chunk` (items per task) and `signal`
 * @returns the results in input order (each awaited if the task returned a promise)
 * @throws TypeError / RangeError at the call for a bad task, input or option, or an item that cannot cross threads (naming its index)
 */
export function map<T, R>(task: (item: T) => R, inputs: ArrayLike<T> | Iterable<T>, options?: MapOptions): Promise<Awaited<R>[]> {
  const host = workerHost();
  if (host === undefined) return Runtime.default().map(task, inputs, options);
  return runMap((stub, items, start) => host.spawn(stub, [items, start]), host.workers, task, inputs, options) as Promise<Awaited<R>[]>;
}
