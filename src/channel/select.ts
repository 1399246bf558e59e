/**
 * `select`: wait on several receivers (and signals, and promises) at once and
 * take from exactly one — the one it returns. Tokio's `select!` over
 * cancel-safe branches.
 *
 * Racing raw `recv()` promises with `Promise.race` loses messages: every
 * `recv()` that finds a value takes it at once (a JavaScript promise is eager),
 * and the losers' values are in promises nobody reads. `select` never starts a
 * receive it might lose: it polls the branches (in a random order, for
 * fairness), asks the channels to wake this thread's select word, polls again,
 * and sleeps; a branch's value is taken only by the poll that returns it.
 */
import { ErrorCode, typeError } from '../errors.js';
import { globalHeap } from '../shared/heap.js';
import type * as broadcast from './broadcast.js';
import { AbortedError } from './errors.js';
import { POLL_MS } from './lock.js';
import type * as mpsc from './mpsc.js';
import type * as oneshot from './oneshot.js';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, SPIN, isPollable, type Pollable, type SleepWord } from './protocol.js';
import { SPIN_POLLS } from './recv-wait.js';
import { threadHub } from './rx-wake.js';
import { ABORTED, raceAbort, signalOf, sleepAsync } from './wait.js';
import type * as watch from './watch.js';

/** What `select` can wait on: a receiving end, an `AbortSignal` (fires when it aborts), or any promise. */
export type SelectBranch =
  | mpsc.Receiver<any>
  | oneshot.Receiver<any>
  | broadcast.Receiver<any>
  | watch.Receiver<any>
  | AbortSignal
  | PromiseLike<any>;

/** The value a branch gives: a receiver's value (`undefined` when it ended), a signal's reason, a promise's value. */
export type SelectValue<B> =
  B extends mpsc.Receiver<infer T>
    ? T | undefined
    : B extends oneshot.Receiver<infer T>
      ? T | undefined
      : B extends broadcast.Receiver<infer T>
        ? T | undefined
        : B extends watch.Receiver<infer T>
          ? T | undefined
          : B extends AbortSignal
            ? unknown
            : B extends PromiseLike<infer T>
              ? T
              : never;

/**
 * Which branch fired (`key`) and what it gave (`value`). `done` is true when
 * that branch is a receiver whose channel has ended (then `value` is undefined):
 * select returns such a branch at once every time, so drop it from the next call.
 */
export type Selected<B> = {
  [K in keyof B]: {
    /** The key of the branch that fired, as in the object passed to `select`. */
    key: K;
    /** What it gave: a receiver's value (`undefined` when `done`), a signal's `reason`, a promise's value. */
    value: SelectValue<B[K]>;
    /** True when the branch is a receiver whose channel has ended (leave it out of the next `select`). */
    done: boolean;
  };
}[keyof B];

const B_POLL = 0;
const B_SIGNAL = 1;
const B_PROMISE = 2;

interface Settled {
  ok: boolean;
  v: unknown;
}

/**
 * Waits until one branch is ready and returns it; takes a value from that
 * branch only. `{ signal }` abandons the whole select (`AbortedError`), taking
 * nothing. Rejects if a promise branch rejects first, or with a broadcast
 * branch's `LaggedError`.
 *
 * ```ts
 * const r = await select({ jobs, control, tick: AbortSignal.timeout(100) });
 * if (r.key === 'jobs') handle(r.value);
 * ```
 */
export async function select<B extends Record<string, SelectBranch>>(branches: B, opts?: { signal?: AbortSignal }): Promise<Selected<B>> {
  const signal = signalOf(opts, 'select()');
  if (typeof branches !== 'object' || branches === null) throw typeError('spindle: select(branches) takes an object of branches: { name: receiver, ... }');
  if (isPollable(branches) || branches instanceof AbortSignal || typeof (branches as { then?: unknown }).then === 'function') {
    // (Its own keys are none: it would read as zero branches.)
    throw typeError('spindle: select(branches) takes an object of named branches, e.g. select({ jobs: rx, stop: signal }), not a single receiver, signal or promise: wrap it in an object');
  }
  const keys = Object.keys(branches);
  if (keys.length === 0) throw typeError('spindle: select(branches) needs at least one branch');
  const n = keys.length;
  const kinds = new Array<number>(n);
  const polls = new Array<Pollable<unknown> | null>(n).fill(null);
  const settled = new Array<Settled | null>(n).fill(null);
  let kick: (() => void) | null = null;
  for (let i = 0; i < n; i++) {
    const b = (branches as Record<string, unknown>)[keys[i]!];
    if (isPollable(b)) {
      kinds[i] = B_POLL;
      polls[i] = b;
    } else if (b instanceof AbortSignal) {
      kinds[i] = B_SIGNAL;
      if (!b.aborted) b.addEventListener('abort', () => kick?.(), { once: true });
    } else if (typeof (b as PromiseLike<unknown> | null)?.then === 'function') {
      kinds[i] = B_PROMISE;
      (b as PromiseLike<unknown>).then(
        (v) => {
          settled[i] = { ok: true, v };
          kick?.();
        },
        (e) => {
          settled[i] = { ok: false, v: e };
          kick?.();
        },
      );
    } else {
      throw typeError(
        `spindle: select(): branch '${keys[i]}' is not a receiver, an AbortSignal or a promise`,
        ErrorCode.INVALID_ARG,
      );
    }
  }
  let start = Math.floor(Math.random() * n);
  const tryAll = (): Selected<B> | undefined => {
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      const key = keys[i]!;
      switch (kinds[i]) {
        case B_POLL: {
          const r = polls[i]![POLL]();
          if (r !== EMPTY) return { key, value: r === CLOSED ? undefined : r, done: r === CLOSED } as Selected<B>;
          break;
        }
        case B_SIGNAL: {
          const s = (branches as Record<string, unknown>)[key] as AbortSignal;
          if (s.aborted) return { key, value: s.reason, done: false } as Selected<B>;
          break;
        }
        default: {
          const s = settled[i];
          if (s !== null) {
            if (!s.ok) throw s.v;
            return { key, value: s.v, done: false } as Selected<B>;
          }
        }
      }
    }
    return undefined;
  };
  // Poll a while first only if a value may come from another thread meanwhile (recv-wait.ts does the same).
  const polls0 = polls.some((p) => p?.[SPIN]?.() === true) ? SPIN_POLLS : 1;
  for (let i = 0; i < polls0; i++) {
    if (signal?.aborted) throw new AbortedError('select()', signal.reason);
    const r = tryAll();
    if (r !== undefined) return r;
  }
  const heap = globalHeap();
  const hub = threadHub();
  const hubI32 = heap.i32For((hub + 1) * 4);
  const disarm = (): void => {
    for (const p of polls) p?.[DISARM]();
  };
  for (;;) {
    if (signal?.aborted) throw new AbortedError('select()', signal.reason);
    const hubSeq = Atomics.load(hubI32, hub);
    const words: SleepWord[] = [];
    for (const p of polls) {
      const w = p?.[ARM](hub);
      if (w !== undefined) words.push(w);
    }
    let r: Selected<B> | undefined;
    try {
      r = tryAll();
    } catch (e) {
      disarm();
      throw e;
    }
    if (r !== undefined) {
      disarm();
      return r;
    }
    const sleeps: Promise<unknown>[] = [new Promise<void>((resolve) => (kick = resolve))];
    let ready = false;
    const hs = sleepAsync(hubI32, hub, hubSeq, POLL_MS);
    if (hs === undefined) ready = true;
    else sleeps.push(hs);
    for (const w of words) {
      const s = sleepAsync(w.i32, w.idx, w.value, POLL_MS);
      if (s === undefined) ready = true;
      else sleeps.push(s);
    }
    const out = ready ? 'ok' : await raceAbort(Promise.race(sleeps), signal);
    kick = null;
    disarm();
    if (out === ABORTED) throw new AbortedError('select()', signal!.reason);
    if (out === 'timed-out') for (const p of polls) p?.[ON_TIMEOUT]();
    start = (start + 1) % n;
  }
}
