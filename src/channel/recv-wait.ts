/**
 * The one receive loop every receiving end uses for `recv` (async, any
 * thread) and `recvSync` (blocking, workers only): poll, arm, poll again,
 * sleep. An abort is checked before every poll, so an aborted call never
 * takes a value.
 */
import { assertMayBlock } from '../sync/wait.js';
import { AbortedError } from './errors.js';
import { POLL_MS } from './lock.js';
import { isMainThread } from 'node:worker_threads';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, SPIN, type Pollable } from './protocol.js';
import { ABORTED, raceAbort, sleepAsync } from './wait.js';

/** Polls this many times before the first sleep (a value is often a few hundred ns away). */
export const SPIN_POLLS = 64;

/**
 * recvWait's first step on its own, for a receive that wants the common case without an async
 * frame: when the value comes from another thread, SPIN_POLLS polls; the value, CLOSED, or EMPTY
 * (then call recvWait with `polled`). A reply that lands within them (most request/reply round
 * trips) resolves the receive's promise directly instead of through two async functions' returns.
 */
export function quickRecv<T>(p: Pollable<T>, signal: AbortSignal | undefined, what: string): T | typeof EMPTY | typeof CLOSED {
  return p[SPIN]?.() === true ? quickPoll(p, signal, what) : EMPTY;
}

/**
 * How long a receiver busy-waits for a value that another thread will write
 * before it sleeps. Sleeping and being woken (Atomics.waitAsync on the event
 * loop) costs ~15-25 µs per hop, as much as a MessagePort hop; a reply that
 * comes within this window costs ~1 µs instead. The main thread spins less
 * (its event loop is blocked meanwhile).
 */
export const SPIN_MS = Number(process.env['SPINDLE_SPIN_MS'] ?? (isMainThread ? 0.03 : 0.05));

/** Polls `p` SPIN_POLLS times (well under a microsecond); the value, or EMPTY. */
function quickPoll<T>(p: Pollable<T>, signal: AbortSignal | undefined, what: string): T | typeof EMPTY | typeof CLOSED {
  for (let i = 0; i < SPIN_POLLS; i++) {
    if (signal?.aborted) throw new AbortedError(what, signal.reason);
    const r = p[POLL]();
    if (r !== EMPTY) return r;
  }
  return EMPTY;
}

/** Busy-polls `p` for up to SPIN_MS; the value, or EMPTY. */
function spinPoll<T>(p: Pollable<T>, signal: AbortSignal | undefined, what: string): T | typeof EMPTY | typeof CLOSED {
  const end = performance.now() + SPIN_MS;
  do {
    for (let i = 0; i < 64; i++) {
      if (signal?.aborted) throw new AbortedError(what, signal.reason);
      const r = p[POLL]();
      if (r !== EMPTY) return r;
    }
  } while (performance.now() < end);
  return EMPTY;
}

/**
 * Waits for a value from `p`; CLOSED at the end. `ref`: keep the process alive while waiting.
 * `polled`: the caller ran {@link quickRecv} and it found nothing.
 */
export async function recvWait<T>(p: Pollable<T>, signal: AbortSignal | undefined, what: string, ref = true, polled = false): Promise<T | typeof CLOSED> {
  // Polling is worth it only when the value comes from another thread: this one cannot send while it polls.
  if (p[SPIN]?.() === true) {
    if (!polled) {
      const first = quickPoll(p, signal, what);
      if (first !== EMPTY) return first;
    }
    // Spin only once this thread's queued callbacks have run: the message that makes the other
    // thread answer is often still one of them (comlink posts a request or a reply from a promise
    // callback), and a spin that blocks it waits out SPIN_MS for nothing, on both sides.
    await new Promise(setImmediate);
    const r = spinPoll(p, signal, what);
    if (r !== EMPTY) return r;
  }
  for (;;) {
    if (signal?.aborted) throw new AbortedError(what, signal.reason);
    const w = p[ARM](0)!;
    let r: T | typeof EMPTY | typeof CLOSED;
    try {
      r = p[POLL]();
    } catch (e) {
      p[DISARM]();
      throw e;
    }
    if (r !== EMPTY) {
      p[DISARM]();
      return r;
    }
    const s = sleepAsync(w.i32, w.idx, w.value, POLL_MS, ref);
    if (s === undefined) continue;
    const out = await raceAbort(s, signal);
    if (out === ABORTED) {
      p[DISARM]();
      throw new AbortedError(what, signal!.reason);
    }
    if (out === 'timed-out') p[ON_TIMEOUT]();
  }
}

/** Blocks the thread until `p` has a value; CLOSED at the end. Worker threads only. */
export function recvBlocking<T>(p: Pollable<T>, what: string): T | typeof CLOSED {
  assertMayBlock(what);
  let first = quickPoll(p, undefined, what);
  if (first === EMPTY && p[SPIN]?.() === true) first = spinPoll(p, undefined, what);
  if (first !== EMPTY) return first;
  for (;;) {
    const w = p[ARM](0)!;
    let r: T | typeof EMPTY | typeof CLOSED;
    try {
      r = p[POLL]();
    } catch (e) {
      p[DISARM]();
      throw e;
    }
    if (r !== EMPTY) {
      p[DISARM]();
      return r;
    }
    if (Atomics.wait(w.i32, w.idx, w.value, POLL_MS) === 'timed-out') p[ON_TIMEOUT]();
  }
}

export { CLOSED, EMPTY };
