/**
 * broadcast: every receiver gets every value sent after it subscribed —
 * Tokio's `broadcast::channel(capacity)`. Values sit in a ring of `capacity`
 * slots (rounded up to a power of two, as Tokio does); a receiver that falls
 * more than `capacity` behind gets `LaggedError(n)` once and continues from
 * the oldest value still kept.
 *
 * ── Block, Int32 word index ────────────────────────────────────────────────
 *   0..11      channel header (chan.ts)
 *   B_CAP     12  ring slots (a power of two)               creator, once
 *   B_LOCK    13  senders' lock (lock.ts)                    senders
 *   B_TAIL    14  values sent so far (wraps)                 senders under B_LOCK → receivers
 *   B_SEQ     15  bumped when receivers may sleep            senders → receivers (futex word)
 *   B_WAITERS 16  receivers about to sleep                   receivers (add/sub) → senders
 *   B_RING    17  the ring's block                           creator, once
 *
 * Ring slot (64 bytes): +0 SEQ (odd while a sender rewrites the slot), +1 POS
 * (the position it holds), +2 LEN (bit 31: out of line), +3 PTR, bytes 16..63
 * the inline encoding. A receiver copies the slot out and checks SEQ and POS
 * before and after (a seqlock): a slot overwritten under it is a lag, never a
 * torn value. Receiver positions live in the receiver's handle and are written
 * to its end block (E_X) when it moves.
 */
import { ErrorCode, withoutStack, typeError } from '../errors.js';
import { RELEASE, SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import {
  E_X,
  END_BYTES,
  H_DROPPED_LOCAL,
  H_FLAGS,
  H_LIVE,
  H_MOVED,
  H_RECEIVERS,
  HEADER_WORDS,
  KIND,
  RECEIVER,
  SENDER,
  TX_CLOSED,
  allocChan,
  chanOfEnd,
  checkCapacity,
  checkKind,
  claimOwner,
  dropListedEnd,
  handleStateError,
  newEnd,
  reap,
  registerChanKind,
} from './chan.js';
import { AbortedError, LaggedError, SendError, TryRecvError } from './errors.js';
import { lock, unlock } from './lock.js';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, type SleepWord } from './protocol.js';
import { recvBlocking, recvWait } from './recv-wait.js';
import { assertNothingOwned, copyEncoded, copyToScratch, decodeScratch, encode } from './values.js';
import { signalOf } from './wait.js';
import { wake } from '../shared/wake.js';

const B_CAP = HEADER_WORDS;
const B_LOCK = HEADER_WORDS + 1;
const B_TAIL = HEADER_WORDS + 2;
const B_SEQ = HEADER_WORDS + 3;
const B_WAITERS = HEADER_WORDS + 4;
const B_RING = HEADER_WORDS + 5;
const BYTES = (HEADER_WORDS + 6) * 4;

const SLOT_BYTES = 64;
const INLINE = 48;
const S_SEQ = 0;
const S_POS = 1;
const S_LEN = 2;
const S_PTR = 3;
const OOL = 1 << 31;
const MAX_CAP = 1 << 24;

/** The sending half of a broadcast channel; clone it for more senders. */
export class Sender<T> implements SharedHandle, Disposable {
  readonly #heap: SharedHeap;
  readonly #e: number;
  readonly #b: number;
  readonly #i32: Int32Array;
  readonly #dead: boolean;
  #state = H_LIVE;
  #deaths: number;

  /** @internal */
  constructor(heap: SharedHeap, e: number, dead = false) {
    this.#heap = heap;
    this.#e = e;
    this.#b = chanOfEnd(heap, e);
    this.#i32 = heap.i32For((this.#b << 2) + BYTES);
    this.#dead = dead;
    this.#deaths = heap.deathCount();
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'broadcast.Sender', op);
  }

  #reap(): void {
    if (!this.#dead && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, this.#b, this.#deaths);
  }

  /**
   * Sends `value` to every current receiver; returns how many there are.
   * Never waits: a full ring overwrites its oldest value (slow receivers lag).
   * Throws `SendError` (value in `err.value`) when there is no receiver.
   */
  send(value: T): number {
    this.#use('send()');
    this.#reap();
    const heap = this.#heap;
    const i32 = this.#i32;
    const b = this.#b;
    const receivers = this.#dead ? 0 : Atomics.load(i32, b + H_RECEIVERS);
    if (receivers === 0) throw new SendError('spindle: broadcast send failed: there is no receiver; the value is returned in err.value', value);
    assertNothingOwned(value, 'broadcast.Sender.send(value)');
    const n = encode(value, 'broadcast.Sender.send(value)');
    let ool = 0;
    if (n > INLINE) {
      ool = heap.alloc(n);
      copyEncoded(heap, ool, n);
    }
    const cap = Atomics.load(i32, b + B_CAP);
    const ring = Atomics.load(i32, b + B_RING);
    lock(heap, i32, b + B_LOCK);
    const t = Atomics.load(i32, b + B_TAIL);
    const slot = ring + (t & (cap - 1)) * SLOT_BYTES;
    const ri = heap.i32For(slot + SLOT_BYTES);
    const w = slot >> 2;
    const oldLen = Atomics.load(ri, w + S_LEN);
    const oldPtr = Atomics.load(ri, w + S_PTR);
    Atomics.add(ri, w + S_SEQ, 1); // odd: being rewritten
    Atomics.store(ri, w + S_POS, t);
    if (ool !== 0) {
      Atomics.store(ri, w + S_PTR, ool);
      Atomics.store(ri, w + S_LEN, n | OOL);
    } else {
      copyEncoded(heap, slot + 16, n);
      Atomics.store(ri, w + S_LEN, n);
    }
    Atomics.add(ri, w + S_SEQ, 1);
    Atomics.store(i32, b + B_TAIL, (t + 1) | 0);
    unlock(i32, b + B_LOCK);
    // A reader copying the old block finds SEQ moved and discards what it read.
    if (oldLen < 0) heap.free(oldPtr);
    if (Atomics.load(i32, b + B_WAITERS) > 0) {
      Atomics.add(i32, b + B_SEQ, 1);
      wake(i32, b + B_SEQ);
    }
    return receivers;
  }

  /** A new receiver that gets every value sent from now on. */
  subscribe(): Receiver<T> {
    this.#use('subscribe()');
    if (this.#dead) return new Receiver<T>(this.#heap, 0, true);
    return newReceiverAtTail<T>(this.#heap, this.#b);
  }

  /** Receivers alive now. */
  receiverCount(): number {
    this.#use('receiverCount()');
    this.#reap();
    return this.#dead ? 0 : Atomics.load(this.#i32, this.#b + H_RECEIVERS);
  }

  /** A new sender on the same channel. */
  clone(): Sender<T> {
    this.#use('clone()');
    if (this.#dead) return new Sender<T>(this.#heap, this.#e, true);
    return new Sender<T>(this.#heap, newEnd(this.#heap, this.#b, KIND.broadcastSender, SENDER));
  }

  /** Drops this sender; when it was the last, receivers drain what is kept and then see the end. */
  drop(): void {
    this.#use('drop()');
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
    if (this.#state === H_LIVE) this.drop();
  }

  /** The shared-handle protocol: moves to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    return { kind: 'broadcast.Sender', heap: this.#heap, offset: this.#e, generation: this.#heap.generation(this.#e), commit: () => { this.#state = H_MOVED; } };
  }
}

function newReceiverAtTail<T>(heap: SharedHeap, b: number): Receiver<T> {
  const e = newEnd(heap, b, KIND.broadcastReceiver, RECEIVER);
  // After the count went up: every value sent from here on is counted for this receiver.
  const pos = Atomics.load(heap.i32For((b << 2) + BYTES), b + B_TAIL);
  return new Receiver<T>(heap, e, false, pos);
}

// Speaks the poll protocol (protocol.ts) that recv and select drive, without naming the internal
// Pollable in `implements` (the API docs would show it): test/channel/protocol.test.ts checks it.
/**
 * A receiving half of a broadcast channel. `recv()` gives the next value, or
 * `undefined` once every sender is gone and this receiver has read what is
 * kept; it throws `LaggedError` once after falling behind.
 */
export class Receiver<T> implements SharedHandle, Disposable, AsyncIterable<T> {
  readonly #heap: SharedHeap;
  readonly #e: number;
  readonly #b: number;
  readonly #i32: Int32Array;
  readonly #dead: boolean;
  #state = H_LIVE;
  #pos: number;
  #armed = false;
  #deaths: number;
  #pending = 0;
  /** Set by [RELEASE] while a call waits: that call drops the end when it settles. */
  #dropWhenIdle = false;

  /** @internal */
  constructor(heap: SharedHeap, e: number, dead = false, pos?: number) {
    this.#heap = heap;
    this.#e = e;
    this.#dead = dead;
    this.#deaths = heap.deathCount();
    if (dead) {
      this.#b = 0;
      this.#i32 = heap.i32;
      this.#pos = 0;
      return;
    }
    this.#b = chanOfEnd(heap, e);
    this.#i32 = heap.i32For((this.#b << 2) + BYTES);
    this.#pos = pos ?? Atomics.load(heap.i32For(e + END_BYTES), (e >> 2) + E_X);
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'broadcast.Receiver', op);
  }

  /**
   * @internal The poll protocol (protocol.ts) that `recv` and `select` drive: takes a value if one is
   * ready (the only place one is consumed), or returns EMPTY, or CLOSED at the end.
   */
  [POLL](): T | typeof EMPTY | typeof CLOSED {
    if (this.#dead) return CLOSED;
    const heap = this.#heap;
    const i32 = this.#i32;
    const b = this.#b;
    const cap = Atomics.load(i32, b + B_CAP);
    const ring = Atomics.load(i32, b + B_RING);
    for (;;) {
      const p = this.#pos;
      const tail = Atomics.load(i32, b + B_TAIL);
      if (p === tail) {
        if ((Atomics.load(i32, b + H_FLAGS) & TX_CLOSED) === 0) return EMPTY;
        if (Atomics.load(i32, b + B_TAIL) === p) return CLOSED;
        continue;
      }
      const behind = (tail - p) | 0;
      if (behind > cap) {
        this.#pos = (tail - cap) | 0;
        throw new LaggedError(behind - cap);
      }
      const slot = ring + (p & (cap - 1)) * SLOT_BYTES;
      const ri = heap.i32For(slot + SLOT_BYTES);
      const w = slot >> 2;
      const s1 = Atomics.load(ri, w + S_SEQ);
      if ((s1 & 1) === 0 && Atomics.load(ri, w + S_POS) === p) {
        const len = Atomics.load(ri, w + S_LEN);
        const n = len & ~OOL;
        const from = len < 0 ? Atomics.load(ri, w + S_PTR) : slot + 16;
        copyToScratch(heap, from, n);
        if (Atomics.load(ri, w + S_SEQ) === s1 && Atomics.load(ri, w + S_POS) === p) {
          this.#pos = (p + 1) | 0;
          return decodeScratch() as T;
        }
      }
      // The slot is being (or was) rewritten for a later position: value p is gone. Never wait on
      // the writer (it may have died mid-write): skip to what is certainly still kept.
      const d = (Atomics.load(i32, b + B_TAIL) + 1 - cap - p) | 0;
      const lost = d > 1 ? d : 1;
      this.#pos = (p + lost) | 0;
      throw new LaggedError(lost);
    }
  }

  /** @internal The poll protocol: prepares to sleep (counts this receiver waiting) and returns the word to sleep on. */
  [ARM](): SleepWord {
    const i32 = this.#i32;
    if (!this.#armed) {
      this.#armed = true;
      Atomics.add(i32, this.#b + B_WAITERS, 1);
    }
    return { i32, idx: this.#b + B_SEQ, value: Atomics.load(i32, this.#b + B_SEQ) };
  }

  /** @internal The poll protocol: undoes ARM. */
  [DISARM](): void {
    if (this.#armed) {
      this.#armed = false;
      Atomics.sub(this.#i32, this.#b + B_WAITERS, 1);
    }
  }

  /** @internal The poll protocol: a sleep ran out; looks for dead threads holding ends. */
  [ON_TIMEOUT](): void {
    if (!this.#dead && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, this.#b, this.#deaths);
  }

  /**
   * The next value, `undefined` at the end; rejects with `LaggedError` once
   * after falling behind, and with `AbortedError` (taking nothing) when `signal` fires.
   */
  recv(opts?: { signal?: AbortSignal }): Promise<T | undefined> {
    this.#use('recv()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'broadcast.Receiver.recv()');
    if (signal?.aborted) return Promise.reject(new AbortedError('broadcast.Receiver.recv()', signal.reason));
    try {
      const r = this[POLL]();
      if (r !== EMPTY) return Promise.resolve(r === CLOSED ? undefined : r);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#wait(signal).then((r) => (r === CLOSED ? undefined : r));
  }

  async #wait(signal: AbortSignal | undefined): Promise<T | typeof CLOSED> {
    this.#pending++;
    try {
      return await recvWait(this, signal, 'broadcast.Receiver.recv()');
    } finally {
      this.#pending--;
      if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
    }
  }

  /** The next value if one is there; throws `TryRecvError` (empty / closed) or `LaggedError`. */
  tryRecv(): T {
    this.#use('tryRecv()');
    this[ON_TIMEOUT]();
    const r = this[POLL]();
    if (r === EMPTY) throw withoutStack(() => new TryRecvError(ErrorCode.CHANNEL_EMPTY, 'spindle: broadcast tryRecv: nothing new'));
    if (r === CLOSED) throw new TryRecvError(ErrorCode.CLOSED, 'spindle: broadcast tryRecv: every sender is gone and nothing is left');
    return r;
  }

  /** Blocks the thread for the next value (`undefined` at the end). Workers only. */
  recvSync(): T | undefined {
    this.#use('recvSync()');
    const r = recvBlocking(this, 'broadcast.Receiver.recvSync()');
    return r === CLOSED ? undefined : r;
  }

  /** Tokio's name for {@link recvSync}. */
  blockingRecv(): T | undefined {
    return this.recvSync();
  }

  /** `for await`: every value until the end. A lag ends the loop with `LaggedError`. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    this.#use('[Symbol.asyncIterator]()');
    return {
      next: async (): Promise<IteratorResult<T>> => {
        let r = this[POLL]();
        if (r === EMPTY) r = await this.#wait(undefined);
        return r === CLOSED ? { done: true, value: undefined } : { done: false, value: r };
      },
      return: () => Promise.resolve({ done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /** Values sent that this receiver has not read yet (at most the capacity). */
  len(): number {
    this.#use('len()');
    if (this.#dead) return 0;
    const i32 = this.#i32;
    return Math.min((Atomics.load(i32, this.#b + B_TAIL) - this.#pos) | 0, Atomics.load(i32, this.#b + B_CAP));
  }

  /** A receiver at the same position (it will read what this one has not read yet). */
  clone(): Receiver<T> {
    this.#use('clone()');
    if (this.#dead) return new Receiver<T>(this.#heap, this.#e, true);
    const e = newEnd(this.#heap, this.#b, KIND.broadcastReceiver, RECEIVER);
    return new Receiver<T>(this.#heap, e, false, this.#pos);
  }

  /** A receiver that gets values sent from now on. */
  resubscribe(): Receiver<T> {
    this.#use('resubscribe()');
    if (this.#dead) return new Receiver<T>(this.#heap, this.#e, true);
    return newReceiverAtTail<T>(this.#heap, this.#b);
  }

  /** Drops this receiver. */
  drop(): void {
    this.#use('drop()');
    if (this.#pending > 0) throw typeError('spindle: broadcast.Receiver.drop(): a recv on it is still waiting; await it (or abort it) first');
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

  /** The shared-handle protocol: moves (with its position) to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    if (this.#pending > 0) throw typeError('spindle: a broadcast.Receiver cannot be moved while a recv on it is waiting');
    return {
      kind: 'broadcast.Receiver',
      heap: this.#heap,
      offset: this.#e,
      generation: this.#heap.generation(this.#e),
      commit: () => {
        if (!this.#dead) Atomics.store(this.#heap.i32For(this.#e + END_BYTES), (this.#e >> 2) + E_X, this.#pos);
        this.#state = H_MOVED;
      },
    };
  }
}

registerChanKind(KIND.broadcast, {
  sendersGone(_heap, i32, b) {
    Atomics.add(i32, b + B_SEQ, 1);
    wake(i32, b + B_SEQ);
  },
  receiversGone() {},
  release(heap, i32, b) {
    const cap = Atomics.load(i32, b + B_CAP);
    const ring = Atomics.load(i32, b + B_RING);
    const ri = heap.i32For(ring + cap * SLOT_BYTES);
    for (let k = 0; k < cap; k++) {
      const w = (ring + k * SLOT_BYTES) >> 2;
      if (Atomics.load(ri, w + S_LEN) < 0) heap.free(Atomics.load(ri, w + S_PTR));
    }
    heap.free(ring);
  },
});

registerSharedKind('broadcast.Sender', (heap, e, gen) => {
  checkKind(heap, e, KIND.broadcastSender, 'broadcast.Sender', gen);
  return new Sender(heap, e, !claimOwner(heap.i32For(e + END_BYTES), (e >> 2) + 2, 'broadcast.Sender'));
});
registerSharedKind('broadcast.Receiver', (heap, e, gen) => {
  checkKind(heap, e, KIND.broadcastReceiver, 'broadcast.Receiver', gen);
  return new Receiver(heap, e, !claimOwner(heap.i32For(e + END_BYTES), (e >> 2) + 2, 'broadcast.Receiver'));
});

/**
 * A broadcast channel keeping the last `capacity` values (rounded up to a
 * power of two) for its receivers: `[sender, receiver]`; more receivers with
 * `sender.subscribe()`. Capacity: an integer from 1 to 2^24.
 */
export function channel<T>(capacity: number): [Sender<T>, Receiver<T>] {
  const heap = globalHeap();
  const max = Math.min(MAX_CAP, Math.floor(heap.maxBytes / SLOT_BYTES / 2));
  const cap = 2 ** Math.ceil(Math.log2(checkCapacity(capacity, 'broadcast(capacity)', max)));
  const off = allocChan(heap, KIND.broadcast, BYTES);
  const b = off >> 2;
  let ring: number;
  try {
    ring = heap.alloc(cap * SLOT_BYTES);
  } catch (e) {
    heap.free(off);
    throw e;
  }
  heap.u8For(ring + cap * SLOT_BYTES).fill(0, ring, ring + cap * SLOT_BYTES);
  const i32 = heap.i32For(off + BYTES);
  Atomics.store(i32, b + B_CAP, cap);
  Atomics.store(i32, b + B_RING, ring);
  const te = newEnd(heap, b, KIND.broadcastSender, SENDER);
  const rx = newReceiverAtTail<T>(heap, b);
  return [new Sender<T>(heap, te), rx];
}
