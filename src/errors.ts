/**
 * Errors: one taxonomy for the whole runtime.
 *
 * - `SpindleError` is the base of every error class the runtime defines
 *   (`JoinError`, the shared-state errors, the channel errors). Each carries a
 *   stable `code` (`ERR_SPINDLE_*`, listed in `ErrorCode`) to branch on
 *   instead of the message.
 * - Bad input stays a built-in `TypeError` / `RangeError` (what a JavaScript
 *   user expects from a bad argument), made by `typeError` / `rangeError`, which
 *   attach a `code` the same way Node does (`err.code === 'ERR_SPINDLE_OPTION'`).
 * - The messages are named constants (`ERR_*` below): each names what was wrong
 *   and how to fix it.
 */

/** The stable codes of spindle's errors. A code never changes meaning once released. */
export const ErrorCode = {
  /** A task panicked (threw or rejected): `JoinError.isPanic()`. */
  TASK_PANICKED: 'ERR_SPINDLE_TASK_PANICKED',
  /** A task was cancelled (aborted, timed out, or shut down): `JoinError.isCancelled()`. */
  TASK_CANCELLED: 'ERR_SPINDLE_TASK_CANCELLED',
  /** The worker running a task died under it. */
  WORKER_DIED: 'ERR_SPINDLE_WORKER_DIED',
  /** A task's start killed its worker too many times in a row. */
  TASK_KILLS_WORKER: 'ERR_SPINDLE_TASK_KILLS_WORKER',
  /** Workers kept dying during start-up; the runtime gave up. */
  START_FAILED: 'ERR_SPINDLE_START_FAILED',
  /** spawn() after shutdown(). */
  SHUT_DOWN: 'ERR_SPINDLE_SHUT_DOWN',
  /** A bad option or argument value (`TypeError` / `RangeError`). */
  INVALID_ARG: 'ERR_SPINDLE_INVALID_ARG',
  /** A value that cannot cross threads (the `Send` bound): `TypeError`. */
  NOT_SENDABLE: 'ERR_SPINDLE_NOT_SENDABLE',
  /** An inline task read a variable of its spawner (the `'static` bound). */
  CAPTURE: 'ERR_SPINDLE_CAPTURE',
  /** A task's module could not be imported, or defines no such task. */
  TASK_NOT_FOUND: 'ERR_SPINDLE_TASK_NOT_FOUND',
  /** Called outside the context it needs (currentTask() outside a task, a Runtime in a runtime worker). */
  WRONG_CONTEXT: 'ERR_SPINDLE_WRONG_CONTEXT',
  /** A runtime invariant broke (a queue push that cannot fail, failed): a bug in spindle, never a silent drop. */
  INVARIANT: 'ERR_SPINDLE_INVARIANT',
  /** A lock's holder died while holding it. */
  POISONED: 'ERR_SPINDLE_POISONED',
  /** A blocking call on the main thread. */
  MAIN_THREAD_BLOCKING: 'ERR_SPINDLE_MAIN_THREAD_BLOCKING',
  /** Releasing what this thread does not hold. */
  NOT_HELD: 'ERR_SPINDLE_NOT_HELD',
  /** A handle used after it was moved, dropped or freed. */
  HANDLE_STATE: 'ERR_SPINDLE_HANDLE_STATE',
  /** A handle from another shared heap. */
  HEAP_MISMATCH: 'ERR_SPINDLE_HEAP_MISMATCH',
  /** A wait would never end (re-entering a lock this thread holds). */
  DEADLOCK: 'ERR_SPINDLE_DEADLOCK',
  /** A wait was abandoned through its AbortSignal. */
  ABORTED: 'ERR_SPINDLE_ABORTED',
  /** A closed semaphore, channel or cell. */
  CLOSED: 'ERR_SPINDLE_CLOSED',
  /** A OnceCell set twice, a oneshot sent twice. */
  ALREADY_SET: 'ERR_SPINDLE_ALREADY_SET',
  /** spindle/bullmq: Redis could not be reached (at start), or went away for longer than `redisTimeout`. */
  REDIS_UNAVAILABLE: 'ERR_SPINDLE_REDIS_UNAVAILABLE',
  /** spindle/bullmq: a job or result written by an incompatible version of spindle/bullmq. */
  INCOMPATIBLE_PAYLOAD: 'ERR_SPINDLE_INCOMPATIBLE_PAYLOAD',
  /** spindle/bullmq: a job finished but its outcome was removed from Redis before its handle could read it. */
  RESULT_LOST: 'ERR_SPINDLE_RESULT_LOST',
  /** The shared heap is at its maxBytes. */
  HEAP_EXHAUSTED: 'ERR_SPINDLE_HEAP_EXHAUSTED',
  /** heap.free() of a block that is not live: a double free, or an offset alloc never returned. */
  INVALID_FREE: 'ERR_SPINDLE_INVALID_FREE',
  /**
   * The main thread gave up a synchronous wait for a lock whose holder it
   * cannot check for life (a platform without /proc): see docs/shared-state.md.
   */
  LOCK_TIMEOUT: 'ERR_SPINDLE_LOCK_TIMEOUT',
  /** A bounded channel had no room for `trySend`. */
  CHANNEL_FULL: 'ERR_SPINDLE_CHANNEL_FULL',
  /** A channel had no message for `tryRecv`. */
  CHANNEL_EMPTY: 'ERR_SPINDLE_CHANNEL_EMPTY',
  /** A broadcast receiver fell behind and missed values (`LaggedError.skipped`). */
  LAGGED: 'ERR_SPINDLE_LAGGED',
  /** spindle was loaded in a way it cannot run from (a CommonJS bundle, `require` on an old Node, a bundle that runs its main code in workers). */
  UNSUPPORTED_SETUP: 'ERR_SPINDLE_UNSUPPORTED_SETUP',
  /** `Runtime.listen()` could not listen: the address is in use or not allowed, the connection task could not be loaded, or this platform cannot share a listening socket between worker threads. */
  LISTEN_FAILED: 'ERR_SPINDLE_LISTEN_FAILED',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** The base of every error class spindle defines; `code` says which, stably. */
export class SpindleError extends Error {
  /** The class's name, as in `err.name`: `'SpindleError'`, `'JoinError'`, `'PoisonError'`, … */
  override name = 'SpindleError';
  /** Which error this is, stably across releases: one of {@link ErrorCode}. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/**
 * Builds an error without capturing a stack trace (`Error.stackTraceLimit`
 * is 0 while `make` runs, and restored at once). For errors whose own stack
 * would say nothing and that come in numbers: the outcome of a non-blocking
 * call that found a channel empty or full (a polling loop meets it thousands
 * of times a second), and a task's JoinError (made by the runtime, not at a
 * user's call: a panic's own stack is its cause's). Capturing a trace cost
 * about 3-5 µs here, most of making such an error.
 */
export function withoutStack<E extends Error>(make: () => E): E {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** A `TypeError` with a stable `code` (bad input at a call site). */
export function typeError(message: string, code: ErrorCode = ErrorCode.INVALID_ARG): TypeError & { code: ErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

/** A `RangeError` with a stable `code` (a value out of range at a call site). */
export function rangeError(message: string, code: ErrorCode = ErrorCode.INVALID_ARG): RangeError & { code: ErrorCode } {
  return Object.assign(new RangeError(message), { code });
}

/**
 * Throws a `TypeError` unless `o` is undefined or an options object. An
 * `AbortSignal` passed where `{ signal }` belongs is named: it has no own keys,
 * so it would pass for an empty options object and be ignored - an abort that
 * never takes effect.
 */
export function checkOptionsObject(o: unknown, what: string, shape: string): void {
  if (o === undefined) return;
  if (typeof o !== 'object' || o === null) throw typeError(`spindle: ${what} takes an options object ${shape}, got ${describe(o)}`);
  if (typeof AbortSignal !== 'undefined' && o instanceof AbortSignal) {
    throw typeError(`spindle: ${what} takes an options object ${shape}, got an AbortSignal: pass { signal } rather than the signal itself`);
  }
}

export const ERR_SPAWN_AFTER_SHUTDOWN =
  'spindle: spawn() after shutdown(): this runtime no longer accepts tasks. Create a new Runtime, or spawn before shutting down.';
export const ERR_RUNTIME_IN_WORKER =
  'spindle: a Runtime was created inside a runtime worker. This usually means a worker imported a task module ' +
  'that also runs main-program code at its top level (new Runtime(), spawn, ...). Keep task definitions in modules ' +
  'without such side effects, or guard the main code with `if (isMainThread)` from node:worker_threads. ' +
  'Inside a task, use spawn() to run more tasks.';
export const ERR_NOT_A_FUNCTION = (what: unknown): string =>
  `spindle: spawn() takes a task (task(import.meta.url, fn)) or an inline function, got ${describe(what)}`;
export const ERR_NATIVE_FUNCTION = (name: string): string =>
  `spindle: ${name || 'this function'} is native or bound code, which cannot be shipped to a worker as source. ` +
  'Wrap it in a task defined with task(import.meta.url, fn).';
export const ERR_TASK_URL = (url: unknown): string =>
  `spindle: task() needs the defining module's URL as its first argument (pass import.meta.url; in CommonJS, __filename), got ${describe(url)}`;
export const ERR_TASK_NAME =
  'spindle: task(url, name, fn) got an empty name: pass a non-empty name, or leave it out (task(url, fn)) to name the task by fn.name';
export const ERR_TASK_REGISTRY_NAME = (name: string): string =>
  `spindle: task(${JSON.stringify(name)}, fn): a registry name is 1 to 200 characters, letters, digits and _ @ . / # + - ` +
  "(like 'reports/render'), starting with a letter, digit, _ or @. To name a task by its module instead, pass import.meta.url first (in CommonJS, __filename).";
export const ERR_TASK_CALLER = (name: string): string =>
  `spindle: task('${name}', fn) could not tell which module called it (eval, or a bundle without file URLs). ` +
  `Define it at the top level of a module file, or use task(import.meta.url, '${name}', fn).`;
export const ERR_TASK_REGISTRY_TWICE = (name: string, first: string, second: string): string =>
  `spindle: the registry name '${name}' is defined twice, in ${first} and in ${second}; registry names must be unique in a program`;
export const ERR_TASK_TWICE = (url: string, name: string): string =>
  `spindle: the task name '${name}' is defined twice in ${url}; task names must be unique within a module`;
export const ERR_WORKERS = (n: unknown): string =>
  `spindle: workers must be an integer from 1 to 1024, got ${describe(n)}. ` +
  'Omit it to use os.availableParallelism().';
export const ERR_OPTION = (name: string, rule: string, got: unknown): string =>
  `spindle: option ${name} must be ${rule}, got ${describe(got)}`;
export const ERR_UNKNOWN_OPTION = (name: string): string => `spindle: unknown Runtime option '${name}'`;
export const ERR_CAPTURE = (message: string): string =>
  `${message} — an inline task captures nothing from its spawner (the 'static bound): it runs on another thread ` +
  'from its own source. Pass the value as an argument (spawn(fn, value)), or define the task in a module with ' +
  'task(import.meta.url, fn).';
export const ERR_IMPORT = (url: string, name: string, message: string): string =>
  `spindle: cannot run task '${name}': importing ${url} in a worker failed: ${message}`;
export const ERR_NO_SUCH_TASK = (url: string, name: string): string =>
  `spindle: module ${url} defines no task named '${name}'. Define it at the module's top level with ` +
  `task(import.meta.url, ${name === '' ? 'fn' : `function ${name}(...) {...}`}) so that workers find it when they import the module.`;
export const ERR_WORKER_DIED = (w: number, reason: string): string =>
  `spindle: worker ${w} died while running this task (${reason}); the runtime replaced it, and its queued tasks run elsewhere`;
export const ERR_TASK_KILLS_WORKER = (n: number, reason: string): string =>
  `spindle: this task killed its worker ${n} times in a row before it could start (last: ${reason}); it was not retried again. ` +
  'Its module probably ends the thread when imported (process.exit, a native crash, running out of memory at the top level): ' +
  'keep task modules free of such side effects.';
export const ERR_START_FAILED = (n: number, reason: string): string =>
  `spindle: ${n} workers in a row died during start-up (last: ${reason}); the runtime stopped starting more. ` +
  'The reason above is what killed them (too small resourceLimits is one cause).';
export const ERR_NO_MODULE_URL =
  'spindle: cannot find its own module URL (import.meta.url is empty): spindle was bundled to CommonJS. ' +
  'Bundle to ESM (esbuild --format=esm, rollup output.format "es"), or keep spindle external (esbuild --external:spindle).';
export const ERR_BUNDLED_MAIN = (url: string, message: string): string =>
  `spindle: a runtime worker imports ${url} to find spindle's code and the tasks, and that module runs the program's main code ` +
  `(it failed with: ${message}). This happens when a bundler puts the program, its tasks and spindle into one file. ` +
  'Bundle the task module as its own entry point, so that spindle and the tasks land in files without side effects: ' +
  'esbuild main.ts tasks.ts --bundle --splitting --format=esm --outdir=dist; rollup input: ["main.ts", "tasks.ts"]; ' +
  'vite build.ssr / rollupOptions.input with both. Or guard the main code with `if (isMainThread)` from node:worker_threads.';
export const ERR_TS_LOADER = (url: string): string =>
  `spindle: task module ${url} is TypeScript, and this Node (${process.version}) cannot import .ts in a worker by itself. ` +
  'Install tsx in the project (npm i -D tsx): spindle registers it in its workers when it finds it. ' +
  'Or use Node >= 22.18 (type stripping, erasable syntax only), or compile the task module to JavaScript.';
export const ERR_SEND_SYNC_HERE =
  'spindle: mpsc.Sender.sendSync(): the channel is full and its receiver lives on this thread, which sendSync would block: ' +
  'it would wait forever. Use `await sender.send(value)` here, or receive on another thread.';
export const ERR_CANCELLED_BY_SHUTDOWN = (id: number): string => `task ${id} was cancelled: the runtime shut down`;
export const ERR_TIMED_OUT = (id: number, ms: number): string => `task ${id} was cancelled: it did not finish within its timeout of ${ms} ms`;
export const ERR_NO_TASK_CONTEXT =
  'spindle: currentTask() was called outside a running task. Call it in the task itself, before its first await ' +
  '(after an await, other tasks may be running on the same thread), and keep the context it returns.';
export const ERR_RESULT = (message: string): string =>
  `spindle: the task's result cannot be sent back to its spawner: ${message}`;

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'function') return `function ${v.name || '(anonymous)'}`;
  if (typeof v === 'object' && v !== null) return v.constructor?.name ?? 'object';
  return String(v);
}

export type JoinErrorKind = 'panic' | 'cancelled';

/** What {@link JoinError.tryIntoPanic} returns. */
export type PanicResult =
  | {
      /** The task panicked. */
      ok: true;
      /** What it threw. */
      value: unknown;
    }
  | {
      /** The task was cancelled. */
      ok: false;
      /** The JoinError itself. */
      error: JoinError;
    };

/**
 * Why a task did not produce its value: it panicked (threw or rejected) or was
 * cancelled (`abort()`). Tokio's `JoinError`. Made by the runtime, it has no
 * stack trace of its own (its frames would be the runtime's): a panic's
 * stack is its `cause`'s, the error the task threw.
 */
export class JoinError extends SpindleError {
  /** `'JoinError'`. */
  override readonly name = 'JoinError';
  /** The id of the task, as on its `JoinHandle`. */
  readonly id: number;
  /**
   * From `map()`: the index in the input of the item whose task threw (its
   * message says it too). Undefined for other errors, and for a map that
   * was cancelled.
   */
  declare readonly index?: number;
  readonly #kind: JoinErrorKind;
  readonly #panic: unknown;

  /** @internal */
  constructor(id: number, kind: JoinErrorKind, panic?: unknown, message?: string, index?: number) {
    super(
      kind === 'panic' ? ErrorCode.TASK_PANICKED : ErrorCode.TASK_CANCELLED,
      message ??
        (kind === 'cancelled'
          ? `task ${id} was cancelled`
          : `task ${id} panicked: ${panicMessage(panic)}`),
      kind === 'panic' ? { cause: panic } : undefined,
    );
    this.id = id;
    if (index !== undefined) this.index = index; // an own field only where there is one (the codec carries own fields)
    this.#kind = kind;
    this.#panic = panic;
  }

  /** True when the task threw or its promise rejected. */
  isPanic(): boolean {
    return this.#kind === 'panic';
  }

  /** True when the task was aborted before it finished. */
  isCancelled(): boolean {
    return this.#kind === 'cancelled';
  }

  /**
   * What the task threw: an `Error` keeps its class (built-ins), name, message,
   * the worker's stack, `cause` and own fields. Throws if the task was cancelled.
   */
  intoPanic(): unknown {
    if (this.#kind !== 'panic') {
      throw new SpindleError(ErrorCode.WRONG_CONTEXT, `spindle: intoPanic() on a JoinError that is not a panic (task ${this.id} was cancelled); check isPanic() first, or use tryIntoPanic()`);
    }
    return this.#panic;
  }

  /** `{ ok: true, value }` with what the task threw, or `{ ok: false, error: this }` if it was cancelled. */
  tryIntoPanic(): PanicResult {
    return this.#kind === 'panic' ? { ok: true, value: this.#panic } : { ok: false, error: this };
  }
}

/**
 * @internal How the runtime makes a JoinError: without a stack trace (see
 * {@link withoutStack}): cancelling or failing many tasks at once (a JoinSet,
 * a scope, a shutdown) made one per task, at 5-7 µs each.
 */
export function joinError(id: number, kind: JoinErrorKind, panic?: unknown, message?: string, index?: number): JoinError {
  return withoutStack(() => new JoinError(id, kind, panic, message, index));
}

/** @internal How a panic value reads in a `JoinError`'s message. */
export function panicMessage(p: unknown): string {
  if (p instanceof Error) return `${p.name}: ${p.message}`;
  try {
    return typeof p === 'string' ? p : JSON.stringify(p) ?? String(p);
  } catch {
    return String(p);
  }
}
