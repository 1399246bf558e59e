/**
 * `Runtime`: the public facade. Options are validated here (options.ts), the
 * work is done by the engine (engine/engine.ts: spawning, completions,
 * deaths, shutdown), as piscina splits `Piscina` from its pool.
 */
import { ERR_OPTION, ERR_RUNTIME_IN_WORKER, ERR_SPAWN_AFTER_SHUTDOWN, ErrorCode, SpindleError, rangeError, typeError } from './errors.js';
import { inRuntimeWorker } from './context.js';
import { checkWorkerSetup } from './worker-spawn.js';
import { Engine, type InternalOptions, type RuntimeMetrics, type WorkerMetrics } from './engine/engine.js';
import { withOptions, type JoinHandle } from './join.js';
import { checkSpawnOptions, resolveOptions, type MapOptions, type RuntimeOptions, type ShutdownOptions, type SpawnOptions } from './options.js';
import { runMap } from './task/map.js';
import type { Socket } from 'node:net';
import type { Listener } from './server/listener.js';
import { resolveListenOptions, type ListenOptions } from './server/options.js';

export type { RuntimeMetrics, WorkerMetrics };

/** @internal Test hook: `rt[kTerminateWorker](w)` ends worker w as a crash would. */
export const kTerminateWorker = Symbol('spindle.terminateWorker');
/** @internal Test settings (tiny capacities, fault points): `new Runtime({ [kInternal]: {...} })`. */
export const kInternal = Symbol('spindle.internal');

let defaultRuntime: Runtime | null = null;

/**
 * A pool of worker threads with work-stealing deques in shared memory.
 *
 * ```ts
 * const rt = new Runtime({ workers: 4 });
 * const n = await rt.spawn(fib, 30);
 * await rt.shutdown();
 * ```
 */
export class Runtime implements AsyncDisposable {
  readonly #engine: Engine;
  readonly #workers: number;
  #state: 'running' | 'closing' | 'closed' = 'running';
  #closed: Promise<void> | null = null;

  constructor(options?: RuntimeOptions) {
    // A runtime worker is one from its first line (its bundle may create a runtime at top level: worker-spawn.ts).
    if (inRuntimeWorker()) throw new SpindleError(ErrorCode.WRONG_CONTEXT, ERR_RUNTIME_IN_WORKER);
    checkWorkerSetup(); // fails at once where workers cannot start (a CommonJS bundle)
    const opts = resolveOptions(options);
    const internal = ((options as Record<symbol, unknown> | undefined)?.[kInternal] ?? {}) as InternalOptions;
    this.#workers = opts.workers;
    this.#engine = new Engine(opts, internal);
    if (defaultRuntime === null) defaultRuntime = this;
  }

  /**
   * The runtime that top-level `spawn()` uses: the first live runtime created
   * on this thread, or else a new one with `os.availableParallelism()` workers.
   */
  static default(): Runtime {
    return defaultRuntime ?? new Runtime();
  }

  /** Number of worker threads. */
  get workers(): number {
    return this.#workers;
  }

  /**
   * Runs `task(...args)` on a worker and returns its `JoinHandle` at once.
   * Throws `TypeError` if an argument cannot cross threads (naming which),
   * and `Error` after `shutdown()`.
   */
  spawn<A extends unknown[], R>(task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
    return this._spawn(task, args, true) as JoinHandle<Awaited<R>>;
  }

  /** @internal `spawn`; `awaitable: false` for a handle never handed out (JoinSet's). */
  _spawn(task: unknown, args: unknown[], awaitable: boolean): JoinHandle<unknown> {
    if (this.#state !== 'running' || this.#engine.broken !== null) throw this.#engine.broken ?? new SpindleError(ErrorCode.SHUT_DOWN, ERR_SPAWN_AFTER_SHUTDOWN);
    return this.#engine.spawn(task, args, awaitable);
  }

  /**
   * `spawn` with options: an external `AbortSignal`, and a `timeout` in ms
   * covering queued and running time. Either cancels the task.
   */
  spawnWith<A extends unknown[], R>(options: SpawnOptions, task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
    checkSpawnOptions(options);
    return withOptions(this.spawn(task, ...args), options);
  }

  /**
   * Applies `task` to every item of `inputs` on the workers and resolves with
   * the results in input order: the bulk path (rayon's `par_iter().map()`).
   * One task runs a *chunk* of items, not one item, so the per-task cost (a
   * few µs) is paid once per chunk; chunks are ordinary tasks that idle
   * workers steal.
   *
   * ```ts
   * const lengths = await rt.map(measure, urls);            // measure: (url: string) => Promise<number>
   * const out = await rt.map((x: number) => x + 1, new Float64Array(1_000_000), { chunk: 10_000 });
   * ```
   *
   * - `task` is called with one item (not its index); its parameter type
   *   checks the items' type and the result type is inferred. A module task or
   *   an inline function that captures nothing, as for `spawn`. A chunk awaits
   *   only if some of its results are promises (or thenables).
   * - `inputs`: an array, a typed array (cut into views; a `SharedArrayBuffer`
   *   one is read in place), an array-like or an iterable (copied into an
   *   array first). Empty: resolves with `[]` and spawns nothing.
   * - Chunk size, when `chunk` is not given: `ceil(n / (8 × workers))`, so that
   *   each worker has about 8 chunks to run or to have stolen; at least 256
   *   items (a chunk must amortize its task), unless that leaves a worker
   *   without a chunk (a short input is cut into one chunk per worker); at
   *   most 8192 items (the first results come back while later chunks run).
   *   For heavy items (milliseconds each) pass a small `chunk`, even `1`.
   * - An item the task throws on (or whose promise rejects) rejects the map
   *   with a panic `JoinError` whose message names the item's index, and
   *   whose `index` field holds it; `intoPanic()` gives what the task threw.
   *   The chunks not yet finished are aborted (a running chunk stops within
   *   64 items).
   * - Aborting `signal` aborts every chunk not yet finished and rejects with
   *   a cancelled `JoinError` (`isCancelled()`).
   * - Throws at the call (nothing left running): `TypeError` / `RangeError`
   *   for a bad task, input or option, and `TypeError` for an item that
   *   cannot cross threads, naming its index (`map() item 7 (at .cb) is a function`).
   *   Items cross as `spawn` arguments do: shared handles by reference (an
   *   `Arc` moves).
   */
  map<T, R>(task: (item: T) => R, inputs: ArrayLike<T> | Iterable<T>, options?: MapOptions): Promise<Awaited<R>[]> {
    return runMap((stub, items, start) => this.spawn(stub as (items: ArrayLike<unknown>, start: number) => unknown, items, start), this.#workers, task, inputs, options) as Promise<Awaited<R>[]>;
  }

  /**
   * Accepts TCP connections on every worker: each worker listens on its own
   * descriptor of one socket bound to `host:port` (the kernel spreads the
   * connections), and each connection runs `connectionTask(socket, ...args)`
   * on the worker that accepted it — a connection task, pinned to that worker
   * because its `net.Socket` belongs to that thread's event loop. Tasks it
   * spawns are stealable as usual. When the task's promise settles the socket
   * is ended (flushed) if the task left it open. `args` cross as stored values:
   * shared handles (a `SharedMap`, a `broadcast` sender) by reference — keep
   * them alive until the listener is closed.
   *
   * Bad options throw at once (`TypeError` / `RangeError` naming the option).
   * Resolves once every worker listens; rejects with `ERR_SPINDLE_LISTEN_FAILED`
   * (the address in use, the task's module not loadable, a platform that
   * cannot share the socket: Windows). Binds `127.0.0.1` unless `host` is given.
   * A worker that dies drops only its own connections; its replacement listens
   * again. `shutdown()` closes every listener first.
   *
   * ```ts
   * export const echo = task(import.meta.url, async function echo(socket: Socket) {
   *   await pipeline(socket, socket);
   * });
   * const server = await rt.listen({ port: 7000 }, echo);
   * ```
   */
  listen<A extends unknown[]>(options: ListenOptions, connectionTask: (socket: Socket, ...args: A) => unknown, ...args: A): Promise<Listener> {
    if (this.#state !== 'running' || this.#engine.broken !== null) {
      throw this.#engine.broken ?? new SpindleError(ErrorCode.SHUT_DOWN, 'spindle: listen() after shutdown(): create a new Runtime, or listen before shutting down.');
    }
    const opts = resolveListenOptions(options);
    if (typeof connectionTask !== 'function') {
      throw typeError(`spindle: listen(): connectionTask must be a task (task(import.meta.url, fn)) or a function that captures nothing, got ${typeof connectionTask}`);
    }
    return this.#engine.servers.listen(opts, connectionTask, args);
  }

  /**
   * Runs `main` and resolves with its value once `main` *and every task on
   * the runtime* (detached ones, nested ones) have finished.
   */
  async run<T>(main: (rt: this) => T | Promise<T>): Promise<T> {
    if (typeof main !== 'function') throw typeError(`spindle: Runtime.run(main) takes a function (rt) => { ... }, got ${typeof main}`);
    const v = await main(this);
    await this.#engine.whenQuiet();
    return v;
  }

  /**
   * Graceful shutdown: no new tasks are accepted; queued and running tasks
   * finish; then the workers exit. With `timeout`, whatever has not finished
   * by then is cancelled as by `shutdownNow()`. Resolves when no worker
   * thread is left; every handle has settled by then, and every panic nobody
   * observed has been reported (`onPanic`).
   */
  shutdown(opts: ShutdownOptions = {}): Promise<void> {
    const timeout = opts.timeout ?? Infinity;
    if (typeof timeout !== 'number' || !(timeout >= 0)) throw rangeError(ERR_OPTION('timeout', 'a number of milliseconds ≥ 0', timeout));
    if (this.#closed !== null) return this.#closed;
    this.#closing();
    this.#closed = (async () => {
      let timer: NodeJS.Timeout | undefined;
      const graceful = this.#engine.servers.closeAll().then(() => this.#engine.stopWhenQuiet());
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((resolve) => {
          if (timeout !== Infinity) timer = setTimeout(() => resolve(true), timeout);
        }),
      ]);
      clearTimeout(timer);
      if (timedOut) await this.#engine.stopNow();
      this.#state = 'closed';
    })();
    return this.#closed;
  }

  /**
   * Stops at once: every task not finished is cancelled (its handle rejects
   * with a `JoinError` whose `isCancelled()` is true), the workers are
   * terminated, and the promise resolves when none is left.
   */
  shutdownNow(): Promise<void> {
    if (this.#closed !== null && this.#state === 'closed') return this.#closed;
    this.#closing();
    const now = this.#engine.stopNow().then(() => {
      this.#state = 'closed';
    });
    this.#closed ??= now;
    return now;
  }

  #closing(): void {
    this.#state = 'closing';
    if (defaultRuntime === this) defaultRuntime = null;
  }

  /** `await using rt = new Runtime()`: `shutdown()` when the scope ends. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  /** A snapshot of the scheduler's counters. */
  metrics(): RuntimeMetrics {
    return this.#engine.metrics();
  }

  /** @internal Test hook: end worker w as a crash would. */
  [kTerminateWorker](w: number): void {
    this.#engine.terminateWorker(w, 'terminated by a test');
  }
}
