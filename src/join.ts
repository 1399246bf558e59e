/**
 * `JoinHandle`: the spawner's side of a task. A native promise of the task's
 * value, created and settled by the thread that spawned the task.
 */
import { ERR_TIMED_OUT, JoinError, joinError, typeError } from './errors.js';

/** How to abort: `force` terminates a task that does not yield (main thread only). */
export interface AbortOptions {
  /**
   * If the task is still running after `grace` ms (it never reached an await
   * point that sees the cancellation), terminate its worker thread. Only the
   * tasks running on that worker fail; its queued tasks run elsewhere, and a
   * replacement worker starts. Main-thread handles only.
   */
  force?: boolean;
  /** Milliseconds to wait before forcing. Default 1000. */
  grace?: number;
}

/** What a handle asks of the thread that owns it. */
export interface HandleHost {
  abort(h: JoinHandle<any>, opts?: AbortOptions, reason?: JoinError): void;
  /** Called when someone starts waiting: a worker runs a still-private child at once. */
  join(h: JoinHandle<any>): void;
  /** A panic settled a handle nobody has awaited (yet). */
  unobserved(h: JoinHandle<any>, e: JoinError): void;
  observed(h: JoinHandle<any>): void;
}

const PENDING = 0;
const OK = 1;
const ERR = 2;

// One executor for every handle's native promise: it hands the resolve
// function out through this variable instead of a closure per handle. Only
// `resolve` is kept (a failure resolves with a rejected promise), so that the
// reject function dies young instead of living as long as the task.
let capturedResolve: (v: unknown) => void = () => {};
/** @internal The executor of a handle's `super(...)`; {@link capturedResolve} then returns its resolve (also bullmq's handle). */
export const capture = (resolve: (v: unknown) => void): void => {
  capturedResolve = resolve;
};
/** @internal The resolve function the last {@link capture} received. */
export function captured(): (v: unknown) => void {
  return capturedResolve;
}
/**
 * The `#resolve` of a handle born unawaitable (one a JoinSet owns and never
 * hands out): its promise never settles and nothing reads it, so its resolve
 * function is left to die young instead of living as long as the task
 * (about 120 bytes: a function and its context). Also its executor, which
 * keeps nothing.
 */
const UNAWAITABLE = (): void => {};

/**
 * Handles settled with internal listeners ({@link JoinHandle._listen}), whose
 * callbacks run in the next microtask (as a promise's would, never inside the
 * settling code). One microtask per batch, queued as the reaction of a settled
 * promise: Node's `queueMicrotask` makes an AsyncResource and a bound function
 * per call, a reaction a small fraction of that.
 */
const RESOLVED = Promise.resolve();
/**
 * The handles to fire, `toFire[0..nFire)`: counted, and cleared entry by entry
 * as they fire, so that the array keeps its capacity from batch to batch. A
 * fresh `[]` per batch (or `length = 0`, which drops the backing store) had
 * it regrow, and be copied, a dozen times on its way to the thousands of
 * handles one drain of completions settles.
 */
let toFire: (JoinHandle<unknown> | undefined)[] = [];
let nFire = 0;
/** The other batch array: listeners that settle more handles while a batch fires fill this one. */
let spareFire: (JoinHandle<unknown> | undefined)[] = [];
const fireAll = (): void => {
  const batch = toFire;
  const n = nFire;
  toFire = spareFire;
  nFire = 0;
  try {
    for (let i = 0; i < n; i++) {
      const h = batch[i]!;
      batch[i] = undefined;
      h._fire();
    }
  } finally {
    spareFire = batch;
  }
};

type Listener = (h: JoinHandle<any>) => void;

/**
 * An owned permission to join a task: await it (or `.then`) for the task's
 * value, `abort()` it to cancel. Dropping a handle detaches the task: it still
 * runs to completion, and a panic of a task nobody awaits goes to the
 * runtime's `onPanic` hook instead of becoming an unhandled rejection.
 *
 * A handle is a native `Promise` (`await`, `Promise.all` and `.then` take it
 * as they take any promise, with no thenable job per handle), whose
 * `constructor` reads as `Promise`. That read is how a handle knows it is
 * observed: `await`, `Promise.all` / `race` / `allSettled` / `any`,
 * `Promise.resolve`, `.then`, `.catch` and `.finally` all look up
 * `constructor` before they attach a reaction (ECMAScript `PromiseResolve`
 * and `SpeciesConstructor`). A panic is therefore delivered as a rejection
 * only once the handle is observed; until then its promise stays pending and
 * the panic is watched (panics.ts), so an unobserved panic never becomes an
 * unhandled rejection. Any read of `constructor` counts, so code that reads
 * it for another reason (a type check) observes the handle: a later panic is
 * then a rejection like any promise's, unhandled if nobody handles it.
 */
export class JoinHandle<T> extends Promise<T> {
  /** The task's id, unique within the process. */
  readonly id: number;
  /** @internal */ _state = PENDING;
  /** @internal */ _value: unknown = undefined;
  /** @internal */ _slot = -1;
  /** @internal */ _local: unknown = null;
  /** @internal Runs once when the handle settles (spawnWith's signal and timer). */
  _cleanup: (() => void) | null = null;
  /** Settles the native promise; null once it has. */
  #resolve: ((v: unknown) => void) | null;
  /** A promise operation read `constructor`: a reaction is attached now or in a moment. */
  #awaited = false;
  /** The first internal listener inline (nearly every listened handle has one), the rest in `#more`. */
  #listener: Listener | null = null;
  #more: Listener[] | null = null;
  #host: HandleHost;

  /**
   * @internal Made by `spawn`; a handle cannot be constructed from an
   * executor as a promise can. `awaitable: false` for a handle its owner never
   * hands out (JoinSet): it is observed through listeners only.
   */
  constructor(id: number, host: HandleHost, awaitable = true) {
    if (typeof id !== 'number') throw typeError('spindle: a JoinHandle is made by spawn(), not constructed (JoinHandle.resolve, .all and the like are not available: use Promise.resolve, Promise.all)');
    super((awaitable ? capture : UNAWAITABLE) as never);
    this.#resolve = awaitable ? captured() : UNAWAITABLE;
    this.id = id;
    this.#host = host;
  }

  /** True once the task has completed, panicked or been cancelled. */
  isFinished(): boolean {
    return this._state !== PENDING;
  }

  /**
   * Cancels the task. A task still queued never runs; a running one is
   * abandoned (its result is discarded). The handle rejects with a
   * `JoinError` whose `isCancelled()` is true. No effect once finished.
   */
  abort(opts?: AbortOptions): void {
    if (this._state === PENDING) this.#host.abort(this, opts);
  }

  /** @internal Aborts with a specific cancellation (a timeout says so). */
  _abortWith(reason: JoinError): void {
    if (this._state === PENDING) this.#host.abort(this, undefined, reason);
  }

  /** A handle that can abort the task but not await it (to give away). */
  abortHandle(): AbortHandle {
    return new AbortHandle(this);
  }

  /**
   * @internal A promise operation is about to attach a reaction (the
   * `constructor` lookup, see the class comment). The first time: a pending
   * task still private to this thread runs now (fork-join); a panic that
   * settled the handle unobserved is taken back from the watch and delivered
   * to the promise.
   */
  _observe(): void {
    if (this.#awaited) return;
    if (this.#resolve === UNAWAITABLE) throw new Error(`spindle internal error: task ${this.id}'s handle belongs to a JoinSet and cannot be awaited (join it through the set)`);
    this.#awaited = true;
    if (this._state === PENDING) {
      if (this.#listener === null) this.#host.join(this);
    } else if (this._state === ERR) {
      this.#host.observed(this);
      this.#settleNative();
    }
  }

  /**
   * @internal Observes the outcome without a promise: `listener(this)` runs
   * once, in a microtask after the handle settles (at once if it has). For
   * {@link joinAll}, JoinSet and scope, which must not pay a reaction per
   * handle. The native promise is left alone (rejecting it with no reaction
   * would be an unhandled rejection).
   */
  _listen(listener: (h: JoinHandle<T>) => void): void {
    if (this._state !== PENDING) {
      if (this._state === ERR) this.#host.observed(this);
      listener(this);
      return;
    }
    if (this.#listener !== null) {
      (this.#more ??= []).push(listener);
      return;
    }
    this.#listener = listener;
    if (!this.#awaited) this.#host.join(this);
  }

  /** @internal The JoinError a settled handle failed with; undefined while pending or when it succeeded. */
  _error(): JoinError | undefined {
    return this._state === ERR ? (this._value as JoinError) : undefined;
  }

  /** `'JoinHandle'`. */
  override get [Symbol.toStringTag](): string {
    return 'JoinHandle';
  }

  /** Delivers the settled outcome to the native promise (once). */
  #settleNative(): void {
    const r = this.#resolve;
    if (r === null) return;
    this.#resolve = null;
    r(this._state === OK ? this._value : Promise.reject(this._value));
  }

  #settled(): void {
    const c = this._cleanup;
    if (c !== null) {
      this._cleanup = null;
      c();
    }
    if (this.#listener !== null) {
      if (nFire === 0) void RESOLVED.then(fireAll);
      toFire[nFire++] = this;
    }
  }

  /** @internal Runs the internal listeners (from the microtask {@link fireAll}). */
  _fire(): void {
    const l = this.#listener!;
    this.#listener = null;
    l(this);
    const more = this.#more;
    if (more !== null) {
      this.#more = null;
      for (const m of more) m(this);
    }
  }

  /** @internal */
  _ok(value: unknown): void {
    if (this._state !== PENDING) return;
    this._state = OK;
    this._value = value;
    // A fulfilment with no reaction attached costs nothing and cannot go unhandled.
    this.#settleNative();
    this.#settled();
  }

  /** @internal */
  _err(e: JoinError): void {
    if (this._state !== PENDING) return;
    this._state = ERR;
    this._value = e;
    const listened = this.#listener !== null;
    if (this.#awaited) this.#settleNative();
    this.#settled();
    if (!this.#awaited && !listened && e.isPanic()) this.#host.unobserved(this, e);
  }
}

/**
 * @internal Makes `constructor` on `cls.prototype` the observation hook (see
 * JoinHandle's class comment): a read on an instance calls its `_observe()`.
 * Read on the prototype itself (no handle behind it) it is plain `Promise`.
 * Returning `Promise` also makes `then` derive plain promises, and keeps
 * `await` and `Promise.all` from wrapping the handle in another promise.
 */
export function observeOnConstructorRead(cls: Function & { prototype: { _observe(): void } }): void {
  Object.defineProperty(cls.prototype, 'constructor', {
    get(this: unknown): PromiseConstructor {
      if (this instanceof cls) (this as { _observe(): void })._observe();
      return Promise;
    },
    configurable: true,
    enumerable: false,
  });
}

observeOnConstructorRead(JoinHandle);

/** Tokio's `AbortHandle`: can abort a task and ask whether it finished, but not await it. */
export class AbortHandle {
  readonly #h: JoinHandle<any>;

  /** @internal */
  constructor(h: JoinHandle<any>) {
    this.#h = h;
  }

  /** The task's id, as on its `JoinHandle`. */
  get id(): number {
    return this.#h.id;
  }

  /** Aborts the task, as `JoinHandle.abort`. */
  abort(opts?: AbortOptions): void {
    this.#h.abort(opts);
  }

  /** True once the task has finished (or was cancelled). */
  isFinished(): boolean {
    return this.#h.isFinished();
  }
}

/**
 * Waits for every handle: resolves with their values in order, or rejects
 * with the first `JoinError` (as `Promise.all`, or `futures::try_join_all`).
 * The same as `Promise.all(handles)`, at less cost per handle: `Promise.all`
 * attaches a reaction, a derived promise and two element functions to each
 * handle; this makes one promise in all. Every handle counts as
 * observed (a later panic of another one is not reported to `onPanic`).
 *
 * ```ts
 * const sums = await joinAll(chunks.map((c) => rt.spawn(sum, c)));
 * ```
 */
export function joinAll<const H extends readonly JoinHandle<unknown>[]>(handles: H): Promise<{ -readonly [K in keyof H]: Awaited<H[K]> }> {
  if (!Array.isArray(handles)) throw typeError(`spindle: joinAll() takes an array of JoinHandles, got ${typeof handles}`);
  for (let i = 0; i < handles.length; i++) {
    if (!(handles[i] instanceof JoinHandle)) {
      throw typeError(`spindle: joinAll() takes JoinHandles only; element ${i} is ${handles[i] === null ? 'null' : typeof handles[i]} (await other values with Promise.all)`);
    }
  }
  return new Promise((resolve, reject) => {
    let left = handles.length;
    let failed = false;
    const settled = (h: JoinHandle<unknown>): void => {
      if (failed) return;
      if (h._state === ERR) {
        failed = true;
        reject(h._value);
      } else if (--left === 0) {
        resolve(handles.map((x) => x._value) as never);
      }
    };
    if (left === 0) resolve([] as never);
    for (let i = 0; i < handles.length; i++) handles[i]!._listen(settled);
  });
}

/** Ties a handle to an AbortSignal and a timeout; both are released when it settles. */
export function withOptions<T>(h: JoinHandle<T>, { signal, timeout }: { signal?: AbortSignal; timeout?: number }): JoinHandle<T> {
  if (signal?.aborted) {
    h.abort();
    return h;
  }
  const onAbort = (): void => h.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  const timer = timeout === undefined ? undefined : setTimeout(() => h._abortWith(joinError(h.id, 'cancelled', undefined, ERR_TIMED_OUT(h.id, timeout))), timeout);
  h._cleanup = () => {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(timer);
  };
  return h;
}

