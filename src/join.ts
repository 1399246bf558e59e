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
 * An owned permission to join a task: await it (or `.then`) for the task's
 * value, `abort()` it to cancel. Dropping a handle detaches the task: it still
 * runs to completion, and a panic of a task nobody awaits goes to the
 * runtime's `onPanic` hook instead of becoming an unhandled rejection.
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
  #promise: Promise<T> | null = null;
  #resolve: ((v: T) => void) | null = null;
  #reject: ((e: unknown) => void) | null = null;
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
    return this.#observe().then(onfulfilled, onrejected);
  }

  /** As `Promise.prototype.catch`: observes the outcome (a handle observed this way never reports its panic to `onPanic`). */
  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#observe().catch(onrejected);
  }

  /** As `Promise.prototype.finally`. */
  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#observe().finally(onfinally);
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
  }

  #observe(): Promise<T> {
    if (this.#promise === null) {
      if (this._state === OK) {
        this.#promise = Promise.resolve(this._value as T);
      } else if (this._state === ERR) {
        this.#host.observed(this);
        this.#promise = Promise.reject(this._value);
      } else {
        this.#promise = new Promise<T>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
        this.#host.join(this);
      }
    }
    return this.#promise;
  }

  /** @internal */
  _ok(value: unknown): void {
    if (this._state !== PENDING) return;
    this.#settled();
    this._state = OK;
    this._value = value;
    if (this.#resolve !== null) this.#resolve(value as T);
  }

  /** @internal */
  _err(e: JoinError): void {
    if (this._state !== PENDING) return;
    this.#settled();
    this._state = ERR;
    this._value = e;
    if (this.#reject !== null) this.#reject(e);
    else if (e.isPanic()) this.#host.unobserved(this, e);
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

