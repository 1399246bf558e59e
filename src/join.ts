/**
 * `JoinHandle`: the spawner's side of a task. A `PromiseLike` of the task's
 * value, created and settled by the thread that spawned the task.
 */
import { ERR_TIMED_OUT, JoinError } from './errors.js';

/** What a handle asks of the thread that owns it. */
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

/**
 * A `then` registered before the handle settled: the callbacks, and the
 * resolving functions of the promise `then` returned.
 */
interface Waiter {
  onOk: unknown;
  onErr: unknown;
  resolve: (v: unknown) => void;
}

// One executor for every promise `then` makes: it hands the resolve function
// out through this variable instead of a closure per call. Only `resolve` is
// kept (a failure resolves with a rejected promise), so that the reject
// function dies young instead of living as long as the task.
let capturedResolve: (v: unknown) => void = () => {};
const capture = (resolve: (v: unknown) => void): void => {
  capturedResolve = resolve;
};

/**
 * Handles settled with waiters, whose callbacks run in the next microtask (as
 * a promise's would, never inside the settling code). One microtask per batch,
 * queued as the reaction of a settled promise: Node's `queueMicrotask` makes
 * an AsyncResource and a bound function per call (~400 bytes of garbage per
 * `await spawn()`), a reaction a small fraction of that.
 */
const RESOLVED = Promise.resolve();
let toFire: JoinHandle<unknown>[] = [];
const fireAll = (): void => {
  const batch = toFire;
  toFire = [];
  for (let i = 0; i < batch.length; i++) batch[i]!._fire();
};

/**
 * The `resolve` of a waiter that is an internal listener (joinAll): its
 * `onOk` is called with the handle, and no promise is made for it.
 */
const LISTENER = (): void => {};

/** Calls one waiter's callback for a settled outcome, as `Promise.prototype.then` would. */
function fire(h: JoinHandle<unknown>, onOk: unknown, onErr: unknown, resolve: (v: unknown) => void, ok: boolean, value: unknown): void {
  if (resolve === LISTENER) {
    (onOk as (h: JoinHandle<unknown>) => void)(h);
    return;
  }
  const cb = ok ? onOk : onErr;
  if (typeof cb !== 'function') {
    resolve(ok ? value : Promise.reject(value));
    return;
  }
  try {
    resolve(cb(value));
  } catch (e) {
    resolve(Promise.reject(e));
  }
}

/**
 * An owned permission to join a task: await it (or `.then`) for the task's
 * value, `abort()` it to cancel. Dropping a handle detaches the task: it still
 * runs to completion, and a panic of a task nobody awaits goes to the
 * runtime's `onPanic` hook instead of becoming an unhandled rejection.
 *
 * A handle is a thenable rather than a `Promise`, because it must know whether
 * its outcome is ever observed (a native promise's `await` bypasses `then`).
 * To keep the per-task cost low (`await` and `Promise.all` over 100,000 of
 * them), `then` makes one promise and keeps the callbacks in the handle,
 * instead of an inner promise plus a derived one.
 */
export class JoinHandle<T> implements PromiseLike<T> {
  /** The task's id, unique within the process. */
  readonly id: number;
  /** @internal */ _state = PENDING;
  /** @internal */ _value: unknown = undefined;
  /** @internal */ _slot = -1;
  /** @internal */ _local: unknown = null;
  /** @internal Runs once when the handle settles (spawnWith's signal and timer). */
  _cleanup: (() => void) | null = null;
  // The first waiter, inline (nearly every handle has exactly one: an await, or Promise.all).
  #onOk: unknown = undefined;
  #onErr: unknown = undefined;
  #resolve: ((v: unknown) => void) | null = null;
  /** Waiters after the first. */
  #more: Waiter[] | null = null;
  #host: HandleHost;

  /** @internal */
  constructor(id: number, host: HandleHost) {
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

  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    if (this._state === OK) return Promise.resolve(this._value as T).then(onfulfilled, onrejected);
    if (this._state === ERR) {
      this.#host.observed(this);
      return Promise.reject(this._value).then(onfulfilled, onrejected);
    }
    const p = new Promise<A | B>(capture as never);
    this.#wait(onfulfilled, onrejected, capturedResolve);
    return p;
  }

  /** Registers a waiter on a pending handle: the first one inline, the rest in `#more`. */
  #wait(onOk: unknown, onErr: unknown, resolve: (v: unknown) => void): void {
    if (this.#resolve === null) {
      this.#onOk = onOk;
      this.#onErr = onErr;
      this.#resolve = resolve;
      this.#host.join(this);
    } else {
      (this.#more ??= []).push({ onOk, onErr, resolve });
    }
  }

  /**
   * @internal Observes the outcome without a promise: `listener(this)` runs
   * once, in a microtask after the handle settles (at once if it has). For
   * {@link joinAll}, which must not pay a promise per handle.
   */
  _listen(listener: (h: JoinHandle<T>) => void): void {
    if (this._state !== PENDING) {
      if (this._state === ERR) this.#host.observed(this);
      listener(this);
      return;
    }
    this.#wait(listener, undefined, LISTENER);
  }

  /** @internal The JoinError a settled handle failed with; undefined while pending or when it succeeded. */
  _error(): JoinError | undefined {
    return this._state === ERR ? (this._value as JoinError) : undefined;
  }

  /** As `Promise.prototype.catch`: observes the outcome (a handle observed this way never reports its panic to `onPanic`). */
  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.then(undefined, onrejected);
  }

  /** As `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.then().finally(onfinally);
  }

  /** `'JoinHandle'`. */
  get [Symbol.toStringTag](): string {
    return 'JoinHandle';
  }

  #settled(): void {
    const c = this._cleanup;
    if (c !== null) {
      this._cleanup = null;
      c();
    }
    if (this.#resolve !== null) {
      if (toFire.length === 0) void RESOLVED.then(fireAll);
      toFire.push(this);
    }
  }

  /** @internal Runs the waiters' callbacks (from the microtask {@link fireAll}). */
  _fire(): void {
    const ok = this._state === OK;
    const v = this._value;
    fire(this, this.#onOk, this.#onErr, this.#resolve!, ok, v);
    this.#onOk = this.#onErr = undefined;
    this.#resolve = null;
    const more = this.#more;
    if (more !== null) {
      this.#more = null;
      for (const w of more) fire(this, w.onOk, w.onErr, w.resolve, ok, v);
    }
  }

  /** @internal */
  _ok(value: unknown): void {
    if (this._state !== PENDING) return;
    this._state = OK;
    this._value = value;
    this.#settled();
  }

  /** @internal */
  _err(e: JoinError): void {
    if (this._state !== PENDING) return;
    this._state = ERR;
    this._value = e;
    const waited = this.#resolve !== null;
    this.#settled();
    if (!waited && e.isPanic()) this.#host.unobserved(this, e);
  }
}

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
 * The same as `Promise.all(handles)`, at a fraction of the cost per handle:
 * `Promise.all` over thenables makes two promises, three functions and two
 * microtasks per handle; this makes one promise in all. Every handle counts as
 * observed (a later panic of another one is not reported to `onPanic`).
 *
 * ```ts
 * const sums = await joinAll(chunks.map((c) => rt.spawn(sum, c)));
 * ```
 */
export function joinAll<const H extends readonly JoinHandle<unknown>[]>(handles: H): Promise<{ -readonly [K in keyof H]: Awaited<H[K]> }> {
  if (!Array.isArray(handles)) throw new TypeError(`spindle: joinAll() takes an array of JoinHandles, got ${typeof handles}`);
  for (let i = 0; i < handles.length; i++) {
    if (!(handles[i] instanceof JoinHandle)) {
      throw new TypeError(`spindle: joinAll() takes JoinHandles only; element ${i} is ${handles[i] === null ? 'null' : typeof handles[i]} (await other values with Promise.all)`);
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
  const timer = timeout === undefined ? undefined : setTimeout(() => h._abortWith(new JoinError(h.id, 'cancelled', undefined, ERR_TIMED_OUT(h.id, timeout))), timeout);
  h._cleanup = () => {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(timer);
  };
  return h;
}

