/**
 * oneshot: one value, once, from one sender to one receiver — Tokio's
 * `oneshot::channel()`. Both ends live in the channel block itself (no end
 * blocks: neither can be cloned).
 *
 * ── Block, Int32 word index ────────────────────────────────────────────────
 *   0..11   channel header (chan.ts); H_EMBED+0 the sender's owner word,
 *           H_EMBED+1 the receiver's
 *   O_STATE 12  VALUE_SET: the value is written     sender (or) → receiver
 *               RX_GONE: the receiver will never    receiver (or) → sender
 *               read it (whichever sets its bit second frees an unread value)
 *   O_RX    13..15  receiver wake words (rx-wake.ts)
 *   O_LEN   16  encoded length (bit 31: out of line)   sender, before VALUE_SET
 *   O_PTR   17  out-of-line block                      sender, before VALUE_SET
 *   O_DATA  18..27  inline encoding (40 bytes)
 */
import { ErrorCode, typeError } from '../errors.js';
import { RELEASE, SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import {
  H_CLOSE_SEQ,
  H_DROPPED_LOCAL,
  H_EMBED,
  H_FLAGS,
  H_LIVE,
  H_MOVED,
  KIND,
  RECEIVER,
  RX_CLOSED,
  SENDER,
  TX_CLOSED,
  allocChan,
  checkKind,
  claimOwner,
  dropEmbedded,
  dropEmbeddedDone,
  handleStateError,
  initEmbedded,
  reap,
  ref,
  registerChanKind,
  setFlag,
  unref,
  watchCloses,
} from './chan.js';
import { AbortedError, RecvError, SendError } from './errors.js';
import { HandleStateError } from '../sync/errors.js';
import { POLL_MS } from './lock.js';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, SPIN, type SleepWord } from './protocol.js';
import { selfTag } from './lock.js';
import { quickRecv, recvBlocking, recvWait } from './recv-wait.js';
import { RX_HUB, RX_SEQ, RX_WAITING, wakeReceiver } from './rx-wake.js';
import { NOT_FAST, copyEncoded, decodeAt, dropOwnedAt, encode, readFast, writeFast } from './values.js';
import { ABORTED, raceAbort, signalOf, sleepAsync } from './wait.js';

const O_STATE = 12;
const O_RX = 13;
const O_LEN = 16;
const O_PTR = 17;
const O_DATA = 18;
const INLINE = 40;
const BYTES = (O_DATA + INLINE / 4) * 4;
const VALUE_SET = 1;
const RX_GONE = 2;
const OOL = 1 << 31;

/** Drops the handles moved into the unread value (nobody will receive them), and frees its out-of-line block. */
function freeValue(heap: SharedHeap, i32: Int32Array, b: number): void {
  const len = Atomics.load(i32, b + O_LEN);
  if (len < 0) {
    const p = Atomics.load(i32, b + O_PTR);
    dropOwnedAt(heap, p, p + (len & ~OOL));
    heap.free(p);
  } else {
    dropOwnedAt(heap, (b + O_DATA) << 2, ((b + O_DATA) << 2) + len);
  }
}

/** The sending half of a oneshot: `send(value)` once. */
export class Sender<T> implements SharedHandle, Disposable {
  readonly #heap: SharedHeap;
  readonly #b: number;
  readonly #i32: Int32Array;
  readonly #dead: boolean;
  #state = H_LIVE;
  #sent = false;
  /** The send was refused (the receiver was gone): the one thing a spent sender still knows. */
  #refused = false;
  #deaths: number;

  /** @internal */
  constructor(heap: SharedHeap, b: number, dead = false, deaths = heap.deathCount()) {
    this.#heap = heap;
    this.#b = b;
    this.#i32 = heap.i32For((b << 2) + BYTES);
    this.#dead = dead;
    this.#deaths = deaths;
  }

  /** @internal Moved into a spawn or a message: the live sender is (or soon is) on another thread. */
  get movedAway(): boolean {
    return this.#state === H_MOVED;
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE && !(this.#sent && this.#state === H_DROPPED_LOCAL)) throw handleStateError(this.#state, 'oneshot.Sender', op);
  }

  #reap(): void {
    if (!this.#dead && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, this.#b, this.#deaths);
  }

  /**
   * Sends the value (once; the sender is spent afterwards, whether the send
   * succeeded or not). Throws `SendError` with the value in `err.value` if the
   * receiver is gone, or if this sender
   * already sent (code ERR_SPINDLE_ALREADY_SET). A value that cannot be
   * encoded is a `TypeError`, and the sender stays usable.
   */
  send(value: T): void {
    if (this.#sent) {
      throw new SendError('spindle: oneshot.Sender.send(): this oneshot already sent its value (or had its send refused); a oneshot carries one value', value, ErrorCode.ALREADY_SET);
    }
    this.#use('send()');
    this.#reap();
    const heap = this.#heap;
    const i32 = this.#i32;
    const b = this.#b;
    if (this.#dead || (Atomics.load(i32, b + O_STATE) & RX_GONE) !== 0) {
      // A refused send spends the sender too (Tokio's send takes self): nothing is left to drop.
      this.#sent = true;
      this.#refused = true;
      this.#state = H_DROPPED_LOCAL;
      if (!this.#dead) dropEmbedded(heap, b, 0, SENDER);
      throw new SendError('spindle: oneshot send failed: the receiver is gone; the value is returned in err.value', value);
    }
    // A primitive straight into the block (the codec's own layout: values.ts), else the encoder.
    const fast = writeFast(value, heap.u8For((b << 2) + BYTES), (b + O_DATA) << 2, INLINE);
    const n = fast >= 0 ? fast : encode(value, 'oneshot.Sender.send(value)');
    if (fast >= 0) {
      Atomics.store(i32, b + O_LEN, n);
    } else if (n > INLINE) {
      const p = heap.alloc(n);
      copyEncoded(heap, p, n);
      Atomics.store(i32, b + O_PTR, p);
      Atomics.store(i32, b + O_LEN, n | OOL);
    } else {
      copyEncoded(heap, (b + O_DATA) << 2, n);
      Atomics.store(i32, b + O_LEN, n);
    }
    this.#sent = true;
    // safety: one or publishes the value; the receiver's RX_GONE tells us if it never will read it.
    const old = Atomics.or(i32, b + O_STATE, VALUE_SET);
    this.#state = H_DROPPED_LOCAL;
    if ((old & RX_GONE) !== 0) {
      this.#refused = true;
      freeValue(heap, i32, b);
      dropEmbedded(heap, b, 0, SENDER);
      throw new SendError('spindle: oneshot send failed: the receiver is gone; the value is returned in err.value', value);
    }
    wakeReceiver(heap, i32, b + O_RX);
    // The value woke the receiver, which reads VALUE_SET before it looks for a close.
    dropEmbeddedDone(heap, b, 0, 0);
  }

  /**
   * A sender whose send went through has let go of the channel (the receiver frees it once it has
   * the value), so it can no longer look: asking is an error, not a read of memory that may be
   * another channel's by now. One whose send was refused knows the receiver is gone.
   */
  #spent(op: string): boolean {
    if (!this.#sent) return false;
    if (this.#refused) return true;
    throw new HandleStateError(
      `spindle: oneshot.Sender.${op}: this sender already sent its value, which spent it (as Tokio's send takes the sender) and let go of the channel; ` +
        'to learn when the value is taken, have the receiver reply on a channel of its own',
    );
  }

  /** True once the receiver is gone (dropped, or its thread died). Throws after a send that went through (the sender is spent). */
  isClosed(): boolean {
    this.#use('isClosed()');
    if (this.#spent('isClosed()')) return true;
    this.#reap();
    return this.#dead || (Atomics.load(this.#i32, this.#b + H_FLAGS) & RX_CLOSED) !== 0;
  }

  /**
   * Resolves when the receiver is gone (Tokio's `Sender::closed`). With `{ signal }`: rejects with
   * `AbortedError` when it fires (a `closed()` takes nothing, so abandoning one is always safe).
   * After a send that went through it rejects with `HandleStateError` (the send spent the sender);
   * after a refused one it resolves (the receiver is gone).
   */
  async closed(opts?: { signal?: AbortSignal }): Promise<void> {
    this.#use('closed()');
    if (this.#spent('closed()')) return;
    const signal = signalOf(opts, 'oneshot.Sender.closed()');
    if (signal?.aborted) throw new AbortedError('oneshot.Sender.closed()', signal.reason);
    if (this.#dead) return;
    const i32 = this.#i32;
    const b = this.#b;
    ref(i32, b);
    watchCloses(i32, b);
    try {
      for (;;) {
        this.#reap();
        const seq = Atomics.load(i32, b + H_CLOSE_SEQ);
        if ((Atomics.load(i32, b + H_FLAGS) & RX_CLOSED) !== 0) return;
        const s = sleepAsync(i32, b + H_CLOSE_SEQ, seq, POLL_MS);
        if (s !== undefined && (await raceAbort(s, signal)) === ABORTED) throw new AbortedError('oneshot.Sender.closed()', signal!.reason);
      }
    } finally {
      unref(this.#heap, b);
    }
  }

  /** Drops the sender unsent: the receiver rejects with a closed `RecvError`. */
  drop(): void {
    if (this.#sent) return;
    this.#use('drop()');
    this.#state = H_DROPPED_LOCAL;
    if (!this.#dead) dropEmbedded(this.#heap, this.#b, 0, SENDER);
  }

  /**
   * `drop()` at the end of a `using` block: nothing if the value was sent (or the sender
   * dropped or moved); otherwise the receiver sees the sender gone.
   *
   * ```ts
   * async function reply(tx: oneshot.Sender<number>): Promise<void> {
   *   using sender = tx;
   *   sender.send(await compute()); // if compute() throws, the receiver rejects with RecvError
   * }
   * ```
   */
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
    if (this.#sent) throw handleStateError(H_DROPPED_LOCAL, 'oneshot.Sender', 'send');
    this.#use('send');
    return { kind: 'oneshot.Sender', heap: this.#heap, offset: this.#b << 2, generation: this.#heap.generation(this.#b << 2), commit: () => { this.#state = H_MOVED; } };
  }
}

// Speaks the poll protocol (protocol.ts) that recv and select drive, without naming the internal
// Pollable in `implements` (the API docs would show it): test/channel/protocol.test.ts checks it.
/**
 * The receiving half of a oneshot: `await receiver` or `await receiver.recv()`
 * gives the value; rejects with `RecvError` if the sender was dropped unsent.
 */
export class Receiver<T> implements SharedHandle, Disposable, PromiseLike<T> {
  readonly #heap: SharedHeap;
  readonly #b: number;
  readonly #i32: Int32Array;
  readonly #dead: boolean;
  #state = H_LIVE;
  #taken = false;
  #pending = 0;
  /** Set by [RELEASE] while a call waits: that call drops the end when it settles. */
  #dropWhenIdle = false;
  /** close() was called: then only a value sent before it (VALUE_SET in `#keptAtClose`) is ours to read. */
  #closed = false;
  #keptAtClose = false;
  #deaths: number;
  #promise: Promise<T> | null = null;
  /**
   * The sender made with this receiver (by `channel()` on this thread), else null. While the
   * sender is in flight its owner word still names this thread; its local state tells us it left.
   */
  readonly #sibling: Sender<T> | null;

  /** @internal */
  constructor(heap: SharedHeap, b: number, dead = false, sibling: Sender<T> | null = null, deaths = heap.deathCount()) {
    this.#heap = heap;
    this.#b = b;
    this.#i32 = heap.i32For((b << 2) + BYTES);
    this.#dead = dead;
    this.#deaths = deaths;
    this.#sibling = sibling;
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'oneshot.Receiver', op);
  }

  /**
   * @internal The poll protocol (protocol.ts) that `recv` and `select` drive: takes a value if one is
   * ready (the only place one is consumed), or returns EMPTY, or CLOSED at the end.
   */
  [POLL](): T | typeof EMPTY | typeof CLOSED {
    if (this.#taken || this.#dead) return CLOSED;
    // safety: a value sent after our close() saw RX_GONE, so its sender frees it: never read it.
    if (this.#closed && !this.#keptAtClose) return CLOSED;
    const i32 = this.#i32;
    const b = this.#b;
    if ((Atomics.load(i32, b + O_STATE) & VALUE_SET) === 0) {
      // safety: the flags first, then the value again: a sender sets VALUE_SET before its drop
      // can close the side, so a close seen here with no value set means no value will come.
      if ((Atomics.load(i32, b + H_FLAGS) & TX_CLOSED) === 0) return EMPTY;
      if ((Atomics.load(i32, b + O_STATE) & VALUE_SET) === 0) return CLOSED;
    }
    this.#taken = true;
    // safety: the value is being received: RX_GONE before our end is dropped below, so that a
    // close of the receiving side meanwhile (a reap, should this thread die before the drop:
    // closeRx) does not free it again nor drop the handles it carries.
    Atomics.or(i32, b + O_STATE, RX_GONE);
    const heap = this.#heap;
    const len = Atomics.load(i32, b + O_LEN);
    try {
      if (len < 0) {
        const p = Atomics.load(i32, b + O_PTR);
        const n = len & ~OOL;
        try {
          return decodeAt(heap, p, p + n) as T;
        } finally {
          heap.free(p);
          Atomics.store(i32, b + O_LEN, 0);
        }
      }
      const at = (b + O_DATA) << 2;
      const v = readFast(heap.u8For(at + len), at, len);
      return (v !== NOT_FAST ? v : decodeAt(heap, at, at + len)) as T;
    } finally {
      // The receiver's work is done: let go of the channel now (the last end frees it). RX_GONE
      // is set, so nothing is left for a close to free: the sender's closed() needs the flag only.
      dropEmbeddedDone(heap, b, 1, RX_CLOSED);
    }
  }

  /**
   * @internal The poll protocol: prepares to sleep (asks the senders to wake the select word `hub`, or
   * returns a word of its own to sleep on).
   */
  [ARM](hub: number): SleepWord | undefined {
    const i32 = this.#i32;
    const w = this.#b + O_RX;
    if (hub !== 0) Atomics.store(i32, w + RX_HUB, hub);
    Atomics.store(i32, w + RX_WAITING, 1);
    return hub !== 0 ? undefined : { i32, idx: w + RX_SEQ, value: Atomics.load(i32, w + RX_SEQ) };
  }

  /** @internal The poll protocol: undoes ARM. */
  [DISARM](): void {
    Atomics.store(this.#i32, this.#b + O_RX + RX_WAITING, 0);
    Atomics.store(this.#i32, this.#b + O_RX + RX_HUB, 0);
  }

  /** @internal The poll protocol: a sleep ran out; looks for dead threads holding ends. */
  [ON_TIMEOUT](): void {
    if (!this.#dead && !this.#taken && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, this.#b, this.#deaths);
  }

  /**
   * @internal The poll protocol: whether a short busy-wait before sleeping is worth it (the value would
   * come from another thread).
   */
  [SPIN](): boolean {
    if (this.#dead || this.#taken) return false;
    const o = Atomics.load(this.#i32, this.#b + H_EMBED);
    if ((o >>> 16) !== 1) return false; // no live sender
    // A sender on another thread, or ours on its way to one (a request's reply channel).
    return (o & 0x3fff) !== selfTag || this.#sibling?.movedAway === true;
  }

  #closedError(): RecvError {
    return new RecvError(
      this.#taken
        ? 'spindle: oneshot.Receiver: the value was already received; a oneshot carries one value'
        : 'spindle: oneshot receive failed: the sender was dropped without sending (or its thread died)',
    );
  }

  /**
   * The value. Rejects with `RecvError` if the sender was dropped unsent, or
   * `AbortedError` if `signal` fires first (the value then stays for a later receive).
   */
  recv(opts?: { signal?: AbortSignal }): Promise<T> {
    this.#use('recv()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'oneshot.Receiver.recv()');
    if (signal?.aborted) return Promise.reject(new AbortedError('oneshot.Receiver.recv()', signal.reason));
    let r: T | typeof EMPTY | typeof CLOSED;
    try {
      r = this[POLL]();
    } catch (e) {
      return Promise.reject(e);
    }
    if (r === EMPTY) {
      try {
        r = quickRecv(this, signal, 'oneshot.Receiver.recv()');
      } catch (e) {
        return Promise.reject(e);
      }
      if (r === EMPTY) return this.#wait(signal);
    }
    if (r === CLOSED) return Promise.reject(this.#closedError());
    return Promise.resolve(r);
  }

  async #wait(signal: AbortSignal | undefined): Promise<T> {
    this.#pending++;
    try {
      const r = await recvWait(this, signal, 'oneshot.Receiver.recv()', true, true);
      if (r === CLOSED) throw this.#closedError();
      return r;
    } finally {
      this.#pending--;
      if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
    }
  }

  /** `await receiver`: the same as `await receiver.recv()` (one receive, shared by every await). */
  then<A = T, B = never>(
    onfulfilled?: ((value: T) => A | PromiseLike<A>) | null,
    onrejected?: ((reason: unknown) => B | PromiseLike<B>) | null,
  ): Promise<A | B> {
    return (this.#promise ??= this.recv()).then(onfulfilled, onrejected);
  }

  /** The value if it has arrived (`undefined` if not yet); throws `RecvError` if the sender was dropped. */
  tryRecv(): T | undefined {
    this.#use('tryRecv()');
    this[ON_TIMEOUT]();
    const r = this[POLL]();
    if (r === CLOSED) throw this.#closedError();
    return r === EMPTY ? undefined : r;
  }

  /** Blocks the thread until the value arrives. Workers only. Throws `RecvError` if the sender was dropped. */
  recvSync(): T {
    this.#use('recvSync()');
    const r = recvBlocking(this, 'oneshot.Receiver.recvSync()');
    if (r === CLOSED) throw this.#closedError();
    return r;
  }

  /** Tokio's name for {@link recvSync}. */
  blockingRecv(): T {
    return this.recvSync();
  }

  /** Closes the receiver: the sender's `send` fails from now on (a value already sent stays readable). */
  close(): void {
    this.#use('close()');
    if (this.#dead || this.#taken || this.#closed) return;
    this.#closed = true;
    // safety: one or orders us against the sender's: a value set before it stays ours to read
    // (and to free), one set after it is refused by the sender, which frees it.
    const old = Atomics.or(this.#i32, this.#b + O_STATE, RX_GONE);
    this.#keptAtClose = (old & VALUE_SET) !== 0;
    setFlag(this.#i32, this.#b, RX_CLOSED);
  }

  /** Drops the receiver: a value not yet read is freed, and the sender sees it closed. */
  drop(): void {
    this.#use('drop()');
    if (this.#pending > 0) throw typeError('spindle: oneshot.Receiver.drop(): a recv on it is still waiting; await it (or abort it) first');
    this.#state = H_DROPPED_LOCAL;
    if (this.#dead || this.#taken) return;
    if (!this.#closed) closeRx(this.#heap, this.#i32, this.#b);
    else if (this.#keptAtClose) freeValue(this.#heap, this.#i32, this.#b); // sent before our close(), never read
    dropEmbedded(this.#heap, this.#b, 1, RECEIVER);
  }

  /** `drop()` at the end of a `using` block (nothing if already dropped, moved, or the value was received). */
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

  /** The shared-handle protocol: moves to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    if (this.#taken) throw typeError('spindle: this oneshot.Receiver already received its value; there is nothing left to move');
    if (this.#pending > 0) throw typeError('spindle: a oneshot.Receiver cannot be moved while a recv on it is waiting');
    if (this.#closed) throw typeError('spindle: a closed oneshot.Receiver cannot be moved; read its value (or drop it) here');
    return { kind: 'oneshot.Receiver', heap: this.#heap, offset: this.#b << 2, generation: this.#heap.generation(this.#b << 2), commit: () => { this.#state = H_MOVED; } };
  }
}

/** The receiver will never read: mark it, and free a value that was sent but not read. */
function closeRx(heap: SharedHeap, i32: Int32Array, b: number): void {
  const old = Atomics.or(i32, b + O_STATE, RX_GONE);
  if ((old & (RX_GONE | VALUE_SET)) === VALUE_SET) freeValue(heap, i32, b);
  setFlag(i32, b, RX_CLOSED);
}

registerChanKind(KIND.oneshot, {
  sendersGone(heap, i32, b) {
    wakeReceiver(heap, i32, b + O_RX);
  },
  receiversGone(heap, i32, b) {
    closeRx(heap, i32, b);
  },
  release() {},
});

registerSharedKind('oneshot.Sender', (heap, off, gen) => {
  checkKind(heap, off, KIND.oneshot, 'oneshot.Sender', gen);
  const alive = claimOwner(heap.i32For(off + BYTES), (off >> 2) + H_EMBED, 'oneshot.Sender');
  return new Sender(heap, off >> 2, !alive);
});
registerSharedKind('oneshot.Receiver', (heap, off, gen) => {
  checkKind(heap, off, KIND.oneshot, 'oneshot.Receiver', gen);
  const alive = claimOwner(heap.i32For(off + BYTES), (off >> 2) + H_EMBED + 1, 'oneshot.Receiver');
  return new Receiver(heap, off >> 2, !alive);
});

/** A oneshot channel: `[sender, receiver]`. */
export function channel<T>(): [Sender<T>, Receiver<T>] {
  const heap = globalHeap();
  const off = allocChan(heap, KIND.oneshot, BYTES);
  const b = off >> 2;
  const i32 = heap.i32For(off + BYTES);
  initEmbedded(i32, b, 0, SENDER);
  initEmbedded(i32, b, 1, RECEIVER);
  const deaths = heap.deathCount();
  const tx = new Sender<T>(heap, b, false, deaths);
  return [tx, new Receiver<T>(heap, b, false, tx, deaths)];
}
