/**
 * Waiting for a shared word to change: the one place that knows how to wait
 * on the main thread (Atomics.waitAsync, never blocking) and in a worker
 * (Atomics.wait), and how long a waiter sleeps before it looks for a dead holder.
 */
import { isMainThread } from 'node:worker_threads';
import { checkOptionsObject, typeError } from '../errors.js';
import { sleepOn } from '../shared/wake.js';
import { MainThreadBlockingError, WaitAbortedError } from './errors.js';

/**
 * A waiter wakes at least this often to check whether the thread it waits for
 * was declared dead (see `SharedHeap.declareThreadDead`). It bounds how late
 * poisoning is noticed; a live holder just costs one cheap check per period.
 */
export const POLL_MS = 25;

/** Throws unless this thread may block in Atomics.wait (i.e. it is a worker). */
export function assertMayBlock(what: string): void {
  if (isMainThread) {
    throw new MainThreadBlockingError(
      `spindle: ${what} would block the main thread's event loop (Atomics.wait) until another thread lets go; ` +
        `await the async form instead, or call ${what} only inside a task running on a worker`,
    );
  }
}

/** Resolves when `i32[idx]` may no longer equal `expected`, or after `ms`. Never blocks. */
export function waitChange(i32: Int32Array, idx: number, expected: number, ms = POLL_MS): Promise<'ok' | 'timed-out'> | undefined {
  // (A task waiting for a lock is pending work: the sleep holds the event loop open.)
  return sleepOn(i32, idx, expected, ms);
}

/** Options every waiting call takes. */
export interface WaitOptions {
  /**
   * Gives up the wait when the signal fires: the promise rejects with a
   * {@link WaitAbortedError} (code ERR_SPINDLE_ABORTED, `cause` = the signal's
   * reason) and the waiter leaves cleanly (a lock's queue passes its turn on).
   */
  signal?: AbortSignal;
}

/** Checks a `{ signal }` option; throws the abort at once if it already fired. */
export function checkSignal(opts: WaitOptions | undefined, what: string): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  checkOptionsObject(opts, what, '{ signal? }');
  const signal = opts.signal;
  if (signal === undefined) return undefined;
  if (typeof signal !== 'object' || signal === null || typeof signal.aborted !== 'boolean' || typeof signal.addEventListener !== 'function') {
    throw typeError(`spindle: ${what}: { signal } must be an AbortSignal`);
  }
  if (signal.aborted) throw abortedError(signal, what);
  return signal;
}

/**
 * A maker of {@link abortedError} for `signal`, or undefined without one. (A
 * helper rather than an inline arrow: a closure over `signal` in the caller
 * would make every call allocate a context, the uncontended path included.)
 */
export function abortWith(signal: AbortSignal | undefined, what: string): (() => WaitAbortedError) | undefined {
  return signal === undefined ? undefined : () => abortedError(signal, what);
}

/** The error a wait abandoned through `signal` rejects with. */
export function abortedError(signal: AbortSignal, what: string): WaitAbortedError {
  return new WaitAbortedError(`spindle: ${what} was aborted by its signal before it got what it waited for; nothing is held`, {
    cause: signal.reason,
  });
}

/**
 * `w` (a waitChange promise), or 'aborted' as soon as `signal` fires. One
 * listener per call, removed when `w` settles: a long wait polls many times,
 * and racing every poll against one never-settling promise would pile up reactions.
 */
export function waitOrAbort(w: Promise<'ok' | 'timed-out'>, signal: AbortSignal): Promise<'ok' | 'timed-out' | 'aborted'> {
  if (signal.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const onAbort = (): void => resolve('aborted');
    signal.addEventListener('abort', onAbort, { once: true });
    void w.then((r) => {
      signal.removeEventListener('abort', onAbort);
      resolve(r);
    });
  });
}

/** Blocks (workers only) until `i32[idx]` may no longer equal `expected`, or after `ms`. */
export function blockChange(i32: Int32Array, idx: number, expected: number, ms = POLL_MS): string {
  return Atomics.wait(i32, idx, expected, ms);
}

/**
 * Retries `attempt(state)` on the word `i32[idx]` until it returns a result,
 * sleeping (without blocking the thread) until the word changes between
 * tries. `attempt` usually CASes `state`; when that fails, the word has
 * changed, so the next sleep returns at once. Synchronous when the first try wins.
 */
export function retryAsync<R>(
  i32: Int32Array,
  idx: number,
  attempt: (state: number) => R | undefined,
  signal?: AbortSignal,
  onAbort?: () => Error,
  onTimeout?: () => void,
): R | Promise<R> {
  const first = attempt(Atomics.load(i32, idx));
  if (first !== undefined) return first;
  return (async () => {
    for (;;) {
      const s = Atomics.load(i32, idx);
      const r = attempt(s);
      if (r !== undefined) return r;
      const w = waitChange(i32, idx, s);
      if (w === undefined) continue;
      const out = signal === undefined ? await w : await waitOrAbort(w, signal);
      if (out === 'aborted') throw onAbort!();
      if (out === 'timed-out') onTimeout?.();
    }
  })();
}

/**
 * {@link retryAsync}, blocking the thread between tries (workers only; `what`
 * names the call in the error). `onTimeout` runs after each sleep that ran out
 * (POLL_MS): where a waiter looks for what dead threads left held.
 */
export function retryBlocking<R>(i32: Int32Array, idx: number, what: string, attempt: (state: number) => R | undefined, onTimeout?: () => void): R {
  assertMayBlock(what);
  for (;;) {
    const s = Atomics.load(i32, idx);
    const r = attempt(s);
    if (r !== undefined) return r;
    if (blockChange(i32, idx, s) === 'timed-out') onTimeout?.();
  }
}
