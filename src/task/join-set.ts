/**
 * JoinSet: own many tasks and join them in the order they finish — Tokio's
 * `JoinSet`. Built on the public task API only (`spawn`, `JoinHandle`), so it
 * works on the main thread and inside tasks alike.
 *
 * It watches its tasks through the handles' internal listener (one function for
 * the whole set, no promise per task: `then` per handle made a promise and two
 * closures per task).
 *
 * Inside a task a JoinSet starts watching its children one turn of the event
 * loop after spawning them (or when joined), not at `spawn`: watching a child
 * that is still in the worker's private deque runs it right there, and the
 * parent should get to spawn its whole batch first.
 */
import { workerHost } from '../context.js';
import { AbortedError } from '../channel/errors.js';
import { signalOf } from '../channel/wait.js';
import { JoinError, typeError } from '../errors.js';
import { JoinHandle, type AbortHandle } from '../join.js';
import { Runtime } from '../runtime.js';

interface Done<T> {
  id: number;
  ok: boolean;
  v: T | JoinError;
}

/** Options of a {@link JoinSet} (and of `scope`). */
export interface JoinSetOptions {
  /** Runtime to spawn on from the main thread (default: the default runtime). Ignored inside a task. */
  runtime?: Runtime;
}

/** What {@link JoinSet.joinNextWithId} returns: a task's id and its value. */
export interface JoinedWithId<T> {
  /** The task's id, as on its handle. */
  id: number;
  /** What it returned. */
  value: T;
}

/**
 * A set of tasks joined in completion order.
 *
 * ```ts
 * using set = new JoinSet<number>();
 * for (const n of inputs) set.spawn(work, n);
 * for (let v; (v = await set.joinNext()) !== undefined; ) total += v;
 * ```
 */
export class JoinSet<T> implements Disposable, AsyncDisposable {
  /** Spawned, not yet returned by a join. */
  readonly #live = new Set<JoinHandle<T>>();
  /**
   * Finished, in finishing order, not yet returned: `#done[#doneHead..#doneTail)`.
   * Counted, and each entry cleared as it is joined, so that the array keeps
   * its capacity (a `length = 0` whenever it emptied dropped the backing
   * store, which the next completion regrew); the joined front is cut off now
   * and then, so a set that never quite empties does not grow without bound.
   */
  readonly #done: (Done<T> | undefined)[] = [];
  #doneHead = 0;
  #doneTail = 0;
  /** Spawned but not yet watched (inside a task: watching is deferred one turn). */
  #unwatched: JoinHandle<T>[] = [];
  #watchScheduled = false;
  #wake: (() => void) | null = null;
  readonly #runtime: Runtime | undefined;

  constructor(opts: JoinSetOptions = {}) {
    if (typeof opts !== 'object' || opts === null) throw typeError('spindle: new JoinSet(options): options must be an object');
    this.#runtime = opts.runtime;
  }

  /** Spawns `task(...args)` into the set; returns an `AbortHandle` for it. */
  spawn<A extends unknown[], R extends T | PromiseLike<T>>(task: (...args: A) => R, ...args: A): AbortHandle {
    // The set never hands the handle out (only an AbortHandle): it is born unawaitable, without a resolve function.
    const host = workerHost();
    const h = (host !== undefined ? host.spawn(task, args, false) : (this.#runtime ?? Runtime.default())._spawn(task, args, false)) as JoinHandle<T>;
    this.#add(h);
    return h.abortHandle();
  }

  /** Adopts a task spawned elsewhere (its handle); the set then owns it. */
  add(handle: JoinHandle<T>): void {
    if (typeof (handle as Partial<JoinHandle<T>>)?.abortHandle !== 'function') throw typeError('spindle: JoinSet.add(handle) takes a JoinHandle');
    this.#add(handle);
  }

  #add(h: JoinHandle<T>): void {
    this.#live.add(h);
    if (workerHost() === undefined) {
      this.#watch(h);
      return;
    }
    this.#unwatched.push(h);
    if (!this.#watchScheduled) {
      this.#watchScheduled = true;
      setImmediate(() => this.#watchAll());
    }
  }

  #watchAll(): void {
    this.#watchScheduled = false;
    const hs = this.#unwatched;
    this.#unwatched = [];
    for (const h of hs) if (this.#live.has(h)) this.#watch(h);
  }

  #watch(h: JoinHandle<T>): void {
    // (A handle-like object from elsewhere that passed add()'s check is watched through `then`.)
    if (h instanceof JoinHandle) h._listen(this.#settled);
    else
      (h as PromiseLike<T>).then(
        (v) => this.#finish(h, true, v),
        (e: unknown) => this.#finish(h, false, e as JoinError),
      );
  }

  /** The listener of every handle in the set (JoinHandle._listen: runs once, after it settles). */
  readonly #settled = (h: JoinHandle<T>): void => {
    const err = h._error();
    this.#finish(h, err === undefined, err ?? (h._value as T));
  };

  #finish(h: JoinHandle<T>, ok: boolean, v: T | JoinError): void {
    if (!this.#live.delete(h)) return; // detached meanwhile
    this.#done[this.#doneTail++] = { id: h.id, ok, v };
    const w = this.#wake;
    if (w !== null) {
      this.#wake = null;
      w();
    }
  }

  #take(): Done<T> | undefined {
    if (this.#doneHead === this.#doneTail) return undefined;
    const d = this.#done[this.#doneHead]!;
    this.#done[this.#doneHead++] = undefined;
    if (this.#doneHead === this.#doneTail) this.#doneHead = this.#doneTail = 0;
    else if (this.#doneHead >= 4096) {
      this.#done.splice(0, this.#doneHead);
      this.#doneTail -= this.#doneHead;
      this.#doneHead = 0;
    }
    return d;
  }

  /** Tasks in the set not yet joined (running, or finished and waiting to be joined). */
  get len(): number {
    return this.#live.size + this.#doneTail - this.#doneHead;
  }

  /** True when the set holds no task. */
  isEmpty(): boolean {
    return this.len === 0;
  }

  /**
   * The value of the next task to finish, in finishing order; `undefined`
   * when the set is empty. Rejects with that task's `JoinError` if it panicked
   * or was aborted (the set goes on: call it again for the next).
   *
   * Cancel-safe through `{ signal }`: aborted, it rejects with `AbortedError`
   * and took nothing (the next join gets that task). Racing a bare
   * `joinNext()` promise against something else loses the result it takes.
   */
  joinNext(opts?: { signal?: AbortSignal }): Promise<T | undefined> {
    // A task already finished, and no signal to check: settled at once, without the wait loop.
    if (opts === undefined && this.#unwatched.length === 0) {
      const d = this.#take();
      if (d !== undefined) return d.ok ? Promise.resolve(d.v as T) : Promise.reject(d.v);
    }
    return this.#joinNextSlow(opts);
  }

  async #joinNextSlow(opts?: { signal?: AbortSignal }): Promise<T | undefined> {
    const d = await this.#next(signalOf(opts, 'JoinSet.joinNext()'), 'JoinSet.joinNext()');
    if (d === undefined) return undefined;
    if (!d.ok) throw d.v;
    return d.v as T;
  }

  /** Like {@link joinNext}, with the task's id: `{ id, value }`, or undefined when empty. */
  async joinNextWithId(opts?: { signal?: AbortSignal }): Promise<JoinedWithId<T> | undefined> {
    const d = await this.#next(signalOf(opts, 'JoinSet.joinNextWithId()'), 'JoinSet.joinNextWithId()');
    if (d === undefined) return undefined;
    if (!d.ok) throw d.v;
    return { id: d.id, value: d.v as T };
  }

  async #next(signal?: AbortSignal, what = 'JoinSet'): Promise<Done<T> | undefined> {
    if (this.#unwatched.length > 0) this.#watchAll();
    for (;;) {
      // Checked before every take: an aborted join never takes a result (it stays for the next join).
      if (signal?.aborted) throw new AbortedError(what, signal.reason);
      const d = this.#take();
      if (d !== undefined) return d;
      if (this.#live.size === 0) return undefined;
      await new Promise<void>((resolve) => {
        // An aborted waiter left in the wake chain only resolves a settled promise later.
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        const woken = (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        };
        const prev = this.#wake;
        this.#wake = prev === null ? woken : () => (prev(), woken());
      });
    }
  }

  /**
   * A task that has already finished, without waiting: its value, or
   * `undefined` if none has finished (a task that just finished may show up
   * one microtask later). Throws its `JoinError` if it failed.
   */
  tryJoinNext(): T | undefined {
    if (this.#unwatched.length > 0) this.#watchAll();
    const d = this.#take();
    if (d === undefined) return undefined;
    if (!d.ok) throw d.v;
    return d.v as T;
  }

  /**
   * Every task's value, in finishing order. If one fails, the others are
   * aborted and it rejects with that task's `JoinError`.
   */
  async joinAll(): Promise<T[]> {
    const out: T[] = [];
    for (;;) {
      const d = await this.#next();
      if (d === undefined) return out;
      if (!d.ok) {
        this.abortAll();
        this.detachAll();
        throw d.v;
      }
      out.push(d.v as T);
    }
  }

  /** Aborts every task in the set; they stay in it until joined (as cancelled `JoinError`s). */
  abortAll(): void {
    for (const h of this.#live) h.abort();
  }

  /** Aborts every task, then waits until all have finished; the set is empty afterwards. */
  async shutdown(): Promise<void> {
    this.abortAll();
    while ((await this.#next()) !== undefined) {
      // drain: results and errors are discarded
    }
  }

  /** Forgets every task without aborting it: they run on, detached. */
  detachAll(): void {
    this.#live.clear();
    this.#unwatched = [];
    this.#done.length = 0;
    this.#doneHead = this.#doneTail = 0;
  }

  /** Aborts what is left (Tokio drops a JoinSet that way). */
  [Symbol.dispose](): void {
    this.abortAll();
    this.detachAll();
  }

  /** Aborts what is left and waits for it to finish. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

