/**
 * watch: one latest value, many receivers that each learn it changed —
 * Tokio's `watch::channel(initial)`. The value is one encoded block, swapped
 * under a short lock; a version counter says whether it changed since a
 * receiver last looked.
 *
 * ── Block, Int32 word index ────────────────────────────────────────────────
 *   0..11       channel header (chan.ts)
 *   W_LOCK     12  lock over VERSION/LEN/PTR (lock.ts)     senders, readers
 *   W_VERSION  13  bumped on every send                     senders under W_LOCK → receivers
 *   W_SEQ      14  bumped when receivers may sleep          senders → receivers (futex word)
 *   W_WAITERS  15  receivers about to sleep                 receivers (add/sub) → senders
 *   W_LEN      16  encoded length of the value              under W_LOCK
 *   W_PTR      17  the value's block                        under W_LOCK
 *
 * A receiver's seen version lives in its handle, and in its end block (E_X)
 * when it moves.
 */
import { typeError } from '../errors.js';
import { RELEASE, SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import {
  E_X,
  END_BYTES,
  H_CLOSE_SEQ,
  H_DROPPED_LOCAL,
  H_FLAGS,
  H_LIVE,
  H_MOVED,
  H_RECEIVERS,
  HEADER_WORDS,
  KIND,
  RECEIVER,
  RX_CLOSED,
  SENDER,
  TX_CLOSED,
  allocChan,
  chanOfEnd,
  checkKind,
  claimOwner,
  dropListedEnd,
  handleStateError,
  newEnd,
  reap,
  ref,
  registerChanKind,
  unref,
  watchCloses,
} from './chan.js';
import { AbortedError, RecvError, SendError } from './errors.js';
import { POLL_MS, lock, unlock } from './lock.js';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, type Pollable, type SleepWord } from './protocol.js';
import { recvWait } from './recv-wait.js';
import { assertNothingOwned, copyEncoded, copyToScratch, decodeAt, decodeScratch, encode } from './values.js';
import { ABORTED, raceAbort, signalOf, sleepAsync } from './wait.js';
import { wake } from '../shared/wake.js';

const W_LOCK = HEADER_WORDS;
const W_VERSION = HEADER_WORDS + 1;
const W_SEQ = HEADER_WORDS + 2;
const W_WAITERS = HEADER_WORDS + 3;
const W_LEN = HEADER_WORDS + 4;
const W_PTR = HEADER_WORDS + 5;
const BYTES = (HEADER_WORDS + 6) * 4;

/** Shared mechanics of both ends: read the value, store a new one. */
class Cell {
  readonly heap: SharedHeap;
  readonly b: number;
  readonly i32: Int32Array;

  constructor(heap: SharedHeap, b: number) {
    this.heap = heap;
    this.b = b;
    this.i32 = heap.i32For((b << 2) + BYTES);
  }

  /** The value and its version (a decoded copy). */
  read(): { value: unknown; version: number } {
    const { heap, i32, b } = this;
    lock(heap, i32, b + W_LOCK);
    const version = Atomics.load(i32, b + W_VERSION);
    const p = Atomics.load(i32, b + W_PTR);
    const n = Atomics.load(i32, b + W_LEN);
    copyToScratch(heap, p, n);
    unlock(i32, b + W_LOCK);
    return { value: decodeScratch(), version };
  }

  /** Replaces the value with the last encoding (n bytes); returns the old block and length. */
  swapLocked(n: number): { p: number; n: number } {
    const { heap, i32, b } = this;
    const fresh = heap.alloc(Math.max(n, 1));
    copyEncoded(heap, fresh, n);
    const old = { p: Atomics.load(i32, b + W_PTR), n: Atomics.load(i32, b + W_LEN) };
    Atomics.store(i32, b + W_PTR, fresh);
    Atomics.store(i32, b + W_LEN, n);
    Atomics.add(i32, b + W_VERSION, 1);
    return old;
  }

  wake(): void {
    const { i32, b } = this;
    if (Atomics.load(i32, b + W_WAITERS) > 0) {
      Atomics.add(i32, b + W_SEQ, 1);
      wake(i32, b + W_SEQ);
    }
  }
}

/** The sending half of a watch channel. */
export class Sender<T> implements SharedHandle, Disposable {
  readonly #c: Cell;
  readonly #e: number;
  readonly #dead: boolean;
  #state = H_LIVE;
  #deaths: number;

  /** @internal */
  constructor(heap: SharedHeap, e: number, dead = false) {
    this.#e = e;
    this.#dead = dead;
    this.#c = new Cell(heap, chanOfEnd(heap, e));
    this.#deaths = heap.deathCount();
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'watch.Sender', op);
  }

  #reap(): void {
    if (!this.#dead && this.#c.heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#c.heap, this.#c.b, this.#deaths);
  }

  #store(value: T, what: string, requireReceivers: boolean, wantOld: boolean): T | undefined {
    this.#reap();
    const c = this.#c;
    if (this.#dead || (requireReceivers && Atomics.load(c.i32, c.b + H_RECEIVERS) === 0)) {
      throw new SendError('spindle: watch send failed: there is no receiver; the value is returned in err.value', value);
    }
    assertNothingOwned(value, what);
    const n = encode(value, what);
    lock(c.heap, c.i32, c.b + W_LOCK);
    let old: { p: number; n: number };
    try {
      old = c.swapLocked(n);
    } finally {
      unlock(c.i32, c.b + W_LOCK);
    }
    const prev = wantOld ? (decodeAt(c.heap, old.p, old.p + old.n) as T) : undefined;
    c.heap.free(old.p);
    c.wake();
    return prev;
  }

  /** Stores `value` and tells every receiver. Throws `SendError` when there is no receiver (the value is not stored). */
  send(value: T): void {
    this.#use('send()');
    this.#store(value, 'watch.Sender.send(value)', true, false);
  }

  /** Stores `value` even with no receiver; returns the previous value. */
  sendReplace(value: T): T {
    this.#use('sendReplace()');
    return this.#store(value, 'watch.Sender.sendReplace(value)', false, true) as T;
  }

  /**
   * Changes the value in place under the channel's lock: `modify` gets a copy
   * of the current value and mutates it (or returns a replacement). Always
   * notifies. Keep `modify` short and synchronous.
   */
  sendModify(modify: (value: T) => T | void): void {
    this.#use('sendModify()');
    this.sendIfModified((v) => {
      const r = modify(v);
      return r === undefined ? { changed: true, value: v } : { changed: true, value: r };
    });
  }

  /**
   * Like {@link sendModify}, but `modify` says whether it changed anything:
   * return `true` (mutated in place), `false` (nothing stored, nobody told),
   * or `{ changed, value }`. Returns whether receivers were told.
   */
  sendIfModified(modify: (value: T) => boolean | { changed: boolean; value: T }): boolean {
    this.#use('sendIfModified()');
    if (typeof modify !== 'function') throw typeError('spindle: watch.Sender.sendIfModified(modify): modify must be a function');
    this.#reap();
    if (this.#dead) return false;
    const c = this.#c;
    const { heap, i32, b } = c;
    let old: { p: number; n: number } | undefined;
    lock(heap, i32, b + W_LOCK);
    try {
      const p = Atomics.load(i32, b + W_PTR);
      const v = decodeAt(heap, p, p + Atomics.load(i32, b + W_LEN)) as T;
      const r = modify(v);
      const changed = typeof r === 'boolean' ? r : r.changed;
      if (!changed) return false;
      const next = typeof r === 'boolean' ? v : r.value;
      assertNothingOwned(next, 'watch.Sender.sendModify(modify)');
      old = c.swapLocked(encode(next, 'watch.Sender.sendModify(modify)'));
    } finally {
      unlock(i32, b + W_LOCK);
    }
    heap.free(old.p);
    c.wake();
    return true;
  }

  /** The current value (a decoded copy). */
  borrow(): T {
    this.#use('borrow()');
    return this.#c.read().value as T;
  }

  /** A new receiver that has seen the current value. */
  subscribe(): Receiver<T> {
    this.#use('subscribe()');
    if (this.#dead) return new Receiver<T>(this.#c.heap, this.#e, true);
    return newReceiver<T>(this.#c.heap, this.#c.b);
  }

  /** Receivers alive now. */
  receiverCount(): number {
    this.#use('receiverCount()');
    this.#reap();
    return this.#dead ? 0 : Atomics.load(this.#c.i32, this.#c.b + H_RECEIVERS);
  }

  /** True when every receiver is gone. */
  isClosed(): boolean {
    return this.receiverCount() === 0;
  }

  /**
   * Resolves when every receiver is gone. With `{ signal }`: rejects with
   * `AbortedError` when it fires (a `closed()` takes nothing, so abandoning one is always safe).
   */
  async closed(opts?: { signal?: AbortSignal }): Promise<void> {
    this.#use('closed()');
    const signal = signalOf(opts, 'watch.Sender.closed()');
    if (signal?.aborted) throw new AbortedError('watch.Sender.closed()', signal.reason);
    if (this.#dead) return;
    const { heap, i32, b } = this.#c;
    ref(i32, b);
    watchCloses(i32, b);
    try {
      for (;;) {
        this.#reap();
        const seq = Atomics.load(i32, b + H_CLOSE_SEQ);
        if ((Atomics.load(i32, b + H_FLAGS) & RX_CLOSED) !== 0) return;
        const s = sleepAsync(i32, b + H_CLOSE_SEQ, seq, POLL_MS);
        if (s !== undefined && (await raceAbort(s, signal)) === ABORTED) throw new AbortedError('watch.Sender.closed()', signal!.reason);
      }
    } finally {
      unref(heap, b);
    }
  }

  /** A new sender on the same channel. */
  clone(): Sender<T> {
    this.#use('clone()');
    if (this.#dead) return new Sender<T>(this.#c.heap, this.#e, true);
    return new Sender<T>(this.#c.heap, newEnd(this.#c.heap, this.#c.b, KIND.watchSender, SENDER));
  }

  /** Drops this sender; when it was the last, receivers' `changed()` rejects with `RecvError`. */
  drop(): void {
    this.#use('drop()');
    this.#state = H_DROPPED_LOCAL;
    if (!this.#dead) dropListedEnd(this.#c.heap, this.#e);
  }

  /** `drop()` at the end of a `using` block (nothing if already dropped or moved). */
  [Symbol.dispose](): void {
    if (this.#state === H_LIVE) this.drop();
  }

  /**
   * @internal The end of the task this end was moved into (codec.ts `ownedArgs`): drop it unless it
   * was dropped or moved on, so its peers see it gone. A call still waiting on it keeps it (it is
   * the call's now) and drops it when it settles.
   */
  [RELEASE](): void {
    if (this.#state === H_LIVE) this.drop();
  }

  /** The shared-handle protocol: moves to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    return { kind: 'watch.Sender', heap: this.#c.heap, offset: this.#e, generation: this.#c.heap.generation(this.#e), commit: () => { this.#state = H_MOVED; } };
  }
}

function newReceiver<T>(heap: SharedHeap, b: number): Receiver<T> {
  const e = newEnd(heap, b, KIND.watchReceiver, RECEIVER);
  const c = new Cell(heap, b);
  return new Receiver<T>(heap, e, false, Atomics.load(c.i32, b + W_VERSION));
}

// Speaks the poll protocol (protocol.ts) that select drives, without naming the internal
// Pollable in `implements` (the API docs would show it): test/channel/protocol.test.ts checks it.
/**
 * A receiving half of a watch channel: `borrow()` the latest value, `await
 * changed()` for the next change (rejects with `RecvError` once the sender is
 * gone and nothing new is unseen).
 */
export class Receiver<T> implements SharedHandle, Disposable {
  readonly #c: Cell | null;
  readonly #heap: SharedHeap;
  readonly #e: number;
  readonly #dead: boolean;
  #state = H_LIVE;
  #seen: number;
  #armed = false;
  #deaths: number;
  #pending = 0;
  /** Set by [RELEASE] while a call waits: that call drops the end when it settles. */
  #dropWhenIdle = false;

  /** @internal */
  constructor(heap: SharedHeap, e: number, dead = false, seen?: number) {
    this.#heap = heap;
    this.#e = e;
    this.#dead = dead;
    this.#deaths = heap.deathCount();
    this.#c = dead ? null : new Cell(heap, chanOfEnd(heap, e));
    this.#seen = dead ? 0 : (seen ?? Atomics.load(heap.i32For(e + END_BYTES), (e >> 2) + E_X));
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'watch.Receiver', op);
  }

  #cell(op: string): Cell {
    if (this.#c === null) throw new RecvError(`spindle: watch.Receiver.${op}: the channel is gone (the thread that held this receiver died)`);
    return this.#c;
  }

  /** The latest value (a decoded copy); does not mark it seen. */
  borrow(): T {
    this.#use('borrow()');
    return this.#cell('borrow()').read().value as T;
  }

  /** The latest value, marked seen. */
  borrowAndUpdate(): T {
    this.#use('borrowAndUpdate()');
    const r = this.#cell('borrowAndUpdate()').read();
    this.#seen = r.version;
    return r.value as T;
  }

  /** True when a value was sent that this receiver has not marked seen. Throws `RecvError` once the sender is gone. */
  hasChanged(): boolean {
    this.#use('hasChanged()');
    this[ON_TIMEOUT]();
    const c = this.#cell('hasChanged()');
    if (Atomics.load(c.i32, c.b + W_VERSION) !== this.#seen) return true;
    if ((Atomics.load(c.i32, c.b + H_FLAGS) & TX_CLOSED) !== 0) throw closedRecv();
    return false;
  }

  /** Marks the current value unseen (the next `changed()` resolves at once). */
  markChanged(): void {
    this.#use('markChanged()');
    this.#seen = (this.#seen - 1) | 0;
  }

  /** Marks the current value seen. */
  markUnchanged(): void {
    this.#use('markUnchanged()');
    const c = this.#cell('markUnchanged()');
    this.#seen = Atomics.load(c.i32, c.b + W_VERSION);
  }

  /**
   * @internal The poll protocol (protocol.ts) that `select` drives: the new value when it changed
   * (marked seen), CLOSED when the sender is gone.
   */
  [POLL](): T | typeof EMPTY | typeof CLOSED {
    const c = this.#c;
    if (c === null) return CLOSED;
    if (Atomics.load(c.i32, c.b + W_VERSION) === this.#seen) {
      if ((Atomics.load(c.i32, c.b + H_FLAGS) & TX_CLOSED) === 0) return EMPTY;
      if (Atomics.load(c.i32, c.b + W_VERSION) === this.#seen) return CLOSED;
    }
    const r = c.read();
    this.#seen = r.version;
    return r.value as T;
  }

  /** @internal The poll protocol: prepares to sleep (counts this receiver waiting) and returns the word to sleep on. */
  [ARM](): SleepWord {
    const c = this.#c!;
    if (!this.#armed) {
      this.#armed = true;
      Atomics.add(c.i32, c.b + W_WAITERS, 1);
    }
    return { i32: c.i32, idx: c.b + W_SEQ, value: Atomics.load(c.i32, c.b + W_SEQ) };
  }

  /** @internal The poll protocol: undoes ARM. */
  [DISARM](): void {
    if (this.#armed) {
      this.#armed = false;
      Atomics.sub(this.#c!.i32, this.#c!.b + W_WAITERS, 1);
    }
  }

  /** @internal The poll protocol: a sleep ran out; looks for dead threads holding ends. */
  [ON_TIMEOUT](): void {
    const c = this.#c;
    if (c !== null && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, c.b, this.#deaths);
  }

  /**
   * Resolves when the value changed since this receiver last marked it seen
   * (and marks the new one seen). Rejects with `RecvError` when the sender is
   * gone and nothing new is unseen, `AbortedError` when `signal` fires.
   */
  async changed(opts?: { signal?: AbortSignal }): Promise<void> {
    this.#use('changed()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'watch.Receiver.changed()');
    if (signal?.aborted) throw new AbortedError('watch.Receiver.changed()', signal.reason);
    const c = this.#c;
    if (c === null) throw closedRecv();
    const seenBefore = this.#seen;
    const v = Atomics.load(c.i32, c.b + W_VERSION);
    if (v !== seenBefore) {
      this.#seen = v;
      return;
    }
    this.#pending++;
    let r: unknown;
    try {
      r = await recvWait(this.#versionPoll(), signal, 'watch.Receiver.changed()');
    } finally {
      this.#pending--;
      if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
    }
    if (r === CLOSED) throw closedRecv();
  }

  /** A pollable that only looks at the version (changed() need not decode the value). */
  #versionPoll(): Pollable<true> {
    const c = this.#c!;
    return {
      [POLL]: () => {
        const v = Atomics.load(c.i32, c.b + W_VERSION);
        if (v !== this.#seen) {
          this.#seen = v;
          return true;
        }
        if ((Atomics.load(c.i32, c.b + H_FLAGS) & TX_CLOSED) === 0) return EMPTY;
        return Atomics.load(c.i32, c.b + W_VERSION) !== this.#seen ? EMPTY : CLOSED;
      },
      [ARM]: () => this[ARM](),
      [DISARM]: () => this[DISARM](),
      [ON_TIMEOUT]: () => this[ON_TIMEOUT](),
    };
  }

  /** Waits until `predicate(value)` holds (checking the current value first); resolves with that value. */
  async waitFor(predicate: (value: T) => boolean, opts?: { signal?: AbortSignal }): Promise<T> {
    this.#use('waitFor()');
    if (typeof predicate !== 'function') throw typeError('spindle: watch.Receiver.waitFor(predicate): predicate must be a function');
    for (;;) {
      const v = this.borrowAndUpdate();
      if (predicate(v)) return v;
      await this.changed(opts);
    }
  }

  /** A receiver that has seen what this one has seen. */
  clone(): Receiver<T> {
    this.#use('clone()');
    if (this.#c === null) return new Receiver<T>(this.#heap, this.#e, true);
    const e = newEnd(this.#heap, this.#c.b, KIND.watchReceiver, RECEIVER);
    return new Receiver<T>(this.#heap, e, false, this.#seen);
  }

  /** Drops this receiver. */
  drop(): void {
    this.#use('drop()');
    if (this.#pending > 0) throw typeError('spindle: watch.Receiver.drop(): a changed() on it is still waiting; await it (or abort it) first');
    this.#state = H_DROPPED_LOCAL;
    if (!this.#dead) dropListedEnd(this.#heap, this.#e);
  }

  /** `drop()` at the end of a `using` block (nothing if already dropped or moved). */
  [Symbol.dispose](): void {
    if (this.#state === H_LIVE) this.drop();
  }

  /**
   * @internal The end of the task this end was moved into (codec.ts `ownedArgs`): drop it unless it
   * was dropped or moved on, so its peers see it gone. A call still waiting on it keeps it (it is
   * the call's now) and drops it when it settles.
   */
  [RELEASE](): void {
    if (this.#state !== H_LIVE) return;
    if (this.#pending === 0) this.drop();
    else this.#dropWhenIdle = true;
  }

  /** The shared-handle protocol: moves (with what it has seen) to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    if (this.#pending > 0) throw typeError('spindle: a watch.Receiver cannot be moved while a changed() on it is waiting');
    return {
      kind: 'watch.Receiver',
      heap: this.#heap,
      offset: this.#e,
      generation: this.#heap.generation(this.#e),
      commit: () => {
        if (!this.#dead) Atomics.store(this.#heap.i32For(this.#e + END_BYTES), (this.#e >> 2) + E_X, this.#seen);
        this.#state = H_MOVED;
      },
    };
  }
}

function closedRecv(): RecvError {
  return new RecvError('spindle: watch channel closed: the sender is gone (dropped, or its thread died) and no change is unseen');
}

registerChanKind(KIND.watch, {
  sendersGone(_heap, i32, b) {
    Atomics.add(i32, b + W_SEQ, 1);
    wake(i32, b + W_SEQ);
  },
  receiversGone() {},
  release(heap, i32, b) {
    heap.free(Atomics.load(i32, b + W_PTR));
  },
});

registerSharedKind('watch.Sender', (heap, e, gen) => {
  checkKind(heap, e, KIND.watchSender, 'watch.Sender', gen);
  return new Sender(heap, e, !claimOwner(heap.i32For(e + END_BYTES), (e >> 2) + 2, 'watch.Sender'));
});
registerSharedKind('watch.Receiver', (heap, e, gen) => {
  checkKind(heap, e, KIND.watchReceiver, 'watch.Receiver', gen);
  return new Receiver(heap, e, !claimOwner(heap.i32For(e + END_BYTES), (e >> 2) + 2, 'watch.Receiver'));
});

/** A watch channel holding `initial`: `[sender, receiver]`; more receivers with `sender.subscribe()`. */
export function channel<T>(initial: T): [Sender<T>, Receiver<T>] {
  assertNothingOwned(initial, 'watch(initial)');
  const heap = globalHeap();
  const n = encode(initial, 'watch(initial)');
  const p = heap.alloc(Math.max(n, 1));
  copyEncoded(heap, p, n);
  const off = allocChan(heap, KIND.watch, BYTES);
  const b = off >> 2;
  const i32 = heap.i32For(off + BYTES);
  Atomics.store(i32, b + W_PTR, p);
  Atomics.store(i32, b + W_LEN, n);
  const te = newEnd(heap, b, KIND.watchSender, SENDER);
  return [new Sender<T>(heap, te), newReceiver<T>(heap, b)];
}
