/**
 * The protocol a receiving end implements so that `select` (and its own
 * `recv`) can wait on it without consuming anything it does not return.
 */

/** What a poll returns when nothing is ready. */
export const EMPTY: unique symbol = Symbol('spindle.channel.empty');
/** What a poll returns when the channel has ended (every sender gone, nothing left). */
export const CLOSED: unique symbol = Symbol('spindle.channel.closed');

export const POLL: unique symbol = Symbol('spindle.channel.poll');
export const ARM: unique symbol = Symbol('spindle.channel.arm');
export const DISARM: unique symbol = Symbol('spindle.channel.disarm');
export const ON_TIMEOUT: unique symbol = Symbol('spindle.channel.onTimeout');
export const SPIN: unique symbol = Symbol('spindle.channel.spin');

/** A futex word to sleep on: `i32[idx]` while it equals `value`. */
export interface SleepWord {
  i32: Int32Array;
  idx: number;
  value: number;
}

export interface Pollable<T> {
  /**
   * Takes one value if ready — the only place a value is consumed — or
   * returns EMPTY, or CLOSED at the end. May throw (a broadcast lag).
   */
  [POLL](): T | typeof EMPTY | typeof CLOSED;
  /**
   * Prepares to sleep: asks the senders to bump `hub` (this thread's select
   * word), or returns a word of its own to sleep on. Poll again after arming.
   */
  [ARM](hub: number): SleepWord | undefined;
  /** Undoes ARM (best effort: a stale wake-up only costs a look). */
  [DISARM](): void;
  /** A sleep ran out: look for dead threads holding ends. */
  [ON_TIMEOUT](): void;
  /**
   * Whether a short busy-wait is worth it before sleeping: the value will
   * come from another thread (a thread cannot write while it spins itself).
   */
  [SPIN]?(): boolean;
}

export function isPollable(x: unknown): x is Pollable<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Pollable<unknown>>)[POLL] === 'function';
}
