/**
 * Waiting for a shared word to change, for channels: `Atomics.waitAsync` on
 * every thread (the main thread never blocks; shared/wake.ts, which also
 * ends it at once when the waker is on this thread), `Atomics.wait` for the blocking
 * variants in workers, an `AbortSignal` that abandons a wait, and a choice of
 * whether a wait keeps the process alive.
 */
import { checkOptionsObject, typeError } from '../errors.js';
import { AbortedError } from './errors.js';

/**
 * `sleepAsync(i32, idx, expected, ms, ref = true)`: resolves when `i32[idx]` may
 * no longer equal `expected`, or after `ms`; undefined when it already differs.
 * `ref`: keep the process alive meanwhile. (shared/wake.ts `sleepOn`.)
 */
export { hold, release, sleepOn as sleepAsync } from '../shared/wake.js';

/** The marker `raceAbort` resolves with when the signal fired first. */
export const ABORTED: unique symbol = Symbol('aborted');

/** `p`, or ABORTED as soon as `signal` fires (the wait behind `p` is simply abandoned). */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T | typeof ABORTED> {
  if (signal === undefined) return p;
  if (signal.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then((v) => {
      signal.removeEventListener('abort', onAbort);
      resolve(v);
    });
  });
}

/** Throws AbortedError when `signal` has fired. */
export function checkAborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new AbortedError(what, signal.reason);
}

/** Checks the `{ signal }` option of a waiting call. */
export function signalOf(opts: { signal?: AbortSignal } | undefined, what: string): AbortSignal | undefined {
  if (opts === undefined) return undefined;
  checkOptionsObject(opts, what, '{ signal? }');
  const s = opts.signal;
  if (s !== undefined && !(s instanceof AbortSignal)) {
    throw typeError(`spindle: ${what}: the signal option must be an AbortSignal`);
  }
  return s;
}

/** Spins on `i32[idx]` for a few microseconds while it equals `expected`; true if it changed. */
export function spinWhile(i32: Int32Array, idx: number, expected: number, iterations: number): boolean {
  for (let i = 0; i < iterations; i++) if (Atomics.load(i32, idx) !== expected) return true;
  return false;
}
