/**
 * What a running task knows about itself: its id, whether it was aborted,
 * and an AbortSignal that fires when it is. Get it with `currentTask()` at the
 * start of the task (before its first `await`: after that, other tasks may be
 * running on the same thread).
 */
import { JoinError, joinError } from './errors.js';

/**
 * The running task's own context, from `currentTask()`: its id, whether it
 * was aborted, an AbortSignal, and `yieldNow()`.
 *
 * @example
 * ```ts
 * export const crunch = task(import.meta.url, async function crunch(items: number[]) {
 *   const ctx = currentTask();
 *   let sum = 0;
 *   for (const x of items) {
 *     sum += x;
 *     await ctx.yieldNow(); // a cancellation point: throws once the task is aborted
 *   }
 *   return sum;
 * });
 * ```
 */
export class TaskContext {
  /** The task's id, as on its `JoinHandle`. */
  readonly id: number;
  #controller: AbortController | null = null;
  readonly #isAborted: () => boolean;

  /** @internal */
  constructor(id: number, isAborted: () => boolean) {
    this.id = id;
    this.#isAborted = isAborted;
  }

  /** True once the task's handle was aborted (or its timeout passed). */
  get aborted(): boolean {
    return this.#isAborted();
  }

  /** Fires when the task is aborted: hand it to `fetch`, streams, timers. */
  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#isAborted()) this.#controller.abort(this.#reason());
    }
    return this.#controller.signal;
  }

  /**
   * Lets the other tasks on this thread run, then throws the cancellation if
   * this task was aborted meanwhile: the await point where a task is cancelled
   * (Tokio cancels at `.await`; spindle at its own await points).
   */
  async yieldNow(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.throwIfAborted();
  }

  /** Throws the cancellation if the task was aborted; the signal has fired by then. */
  throwIfAborted(): void {
    if (this.#isAborted()) {
      // The signal fires before (or as) the cancellation point throws: whatever
      // the task handed it to (timers, fetch) is aborted too.
      this.signal;
      this._fire();
      throw this.#reason();
    }
  }

  /** @internal The owner aborted the task: fire the signal (if anyone asked for it). */
  _fire(): void {
    if (this.#controller !== null && !this.#controller.signal.aborted) this.#controller.abort(this.#reason());
  }

  #reason(): JoinError {
    return joinError(this.id, 'cancelled');
  }
}
