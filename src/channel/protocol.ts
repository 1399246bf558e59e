/**
 * The protocol a receiving end implements so that `select` (and its own
 * `recv`) can wait on it without consuming anything it does not return.
 *
 * Nothing here is public API: every declaration is `@internal`, as are the
 * ends' methods keyed by these symbols, and the receivers do not name
 * `Pollable` in `implements` (test/channel/protocol.test.ts checks that they
 * conform).
 */

/** @internal What a poll returns when nothing is ready. */
export const EMPTY: unique symbol = Symbol('spindle.channel.empty');
/** @internal What a poll returns when the channel has ended (every sender gone, nothing left). */
export const CLOSED: unique symbol = Symbol('spindle.channel.closed');

/** @internal Key of {@link Pollable}'s poll method. */
export const POLL: unique symbol = Symbol('spindle.channel.poll');
/** @internal Key of {@link Pollable}'s arm method. */
export const ARM: unique symbol = Symbol('spindle.channel.arm');
/** @internal Key of {@link Pollable}'s disarm method. */
export const DISARM: unique symbol = Symbol('spindle.channel.disarm');
/** @internal Key of {@link Pollable}'s timed-out method. */
export const ON_TIMEOUT: unique symbol = Symbol('spindle.channel.onTimeout');
/** @internal Key of {@link Pollable}'s spin method. */
export const SPIN: unique symbol = Symbol('spindle.channel.spin');

/** @internal A futex word to sleep on: `i32[idx]` while it equals `value`. */
export interface SleepWord {
  i32: Int32Array;
  idx: number;
  value: number;
}

/** @internal What `select` and `recv` wait on: a receiving end. */
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

/** @internal Whether `x` speaks the poll protocol (how `select` tells a receiver from a promise). */
export function isPollable(x: unknown): x is Pollable<unknown> {
  return typeof x === 'object' && x !== null && typeof (x as Partial<Pollable<unknown>>)[POLL] === 'function';
}
