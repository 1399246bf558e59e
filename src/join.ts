/**
 * `JoinHandle`: the spawner's side of a task. A `PromiseLike` of the task's
 * value, created and settled by the thread that spawned the task.
 */
import { JoinError } from './errors.js';

/** What a handle asks of the thread that owns it. */
export interface HandleHost {
  abort(h: JoinHandle<any>): void;
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
  abort(): void {
    if (this._state === PENDING) this.#host.abort(this);
  }

  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return this.#observe().then(onfulfilled, onrejected);
  }

  catch<B = never>(onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null): Promise<T | B> {
    return this.#observe().catch(onrejected);
  }

  finally(onfinally?: (() => void) | null): Promise<T> {
    return this.#observe().finally(onfinally);
  }

  get [Symbol.toStringTag](): string {
    return 'JoinHandle';
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
    this._state = OK;
    this._value = value;
    if (this.#resolve !== null) this.#resolve(value as T);
  }

  /** @internal */
  _err(e: JoinError): void {
    if (this._state !== PENDING) return;
    this._state = ERR;
    this._value = e;
    if (this.#reject !== null) this.#reject(e);
    else if (e.isPanic()) this.#host.unobserved(this, e);
  }
}
