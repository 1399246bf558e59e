/**
 * mpsc: a multi-producer, single-consumer queue in the shared heap — Tokio's
 * `mpsc::channel(capacity)` (bounded, with backpressure) and
 * `mpsc::unbounded_channel()`.
 *
 * The queue is a chain of segments of fixed 128-byte slots. Producers push
 * under a short tagged lock (lock.ts) and publish with one store of TAIL; the
 * single consumer reads up to TAIL without any lock and publishes HEAD. A
 * value whose encoding fits 120 bytes (numbers, strings, small objects)
 * lives in its slot; a longer one in its own heap block that the consumer
 * frees. The consumer passes a segment it has finished to the producers
 * through SPARE, so a steady stream allocates nothing.
 *
 * Bounded channels keep FIFO order among waiting senders: a sender that finds
 * no room queues a waiter node, and room is granted to the oldest node first
 * (a sender that arrives while others wait queues behind them: no barging).
 * A granted node is a reservation (RESERVED) until its sender pushes or lets
 * go; `reserve()` hands one out as a Permit.
 *
 * ── Block, Int32 word index from the channel's first word ─────────────────
 *   0..11   channel header (chan.ts); H_EMBED+0 is the receiver's owner word
 *   M_CAP        12  capacity, 0 = unbounded                 creator, once
 *   M_SEG_SLOTS  13  slots per segment                       creator, once
 *   ── producers' line ──
 *   M_LOCK       16  producer lock (lock.ts)                  senders, consumer's grant
 *   M_TAIL       17  messages published (wraps)              producer under M_LOCK → consumer
 *   M_TAIL_SEG   18  segment that holds position TAIL        under M_LOCK
 *   M_WQ_HEAD    19  first waiter node (FIFO)                under M_LOCK
 *   M_WQ_TAIL    20  last waiter node                        under M_LOCK
 *   M_RESERVED   21  granted, unused reservations            under M_LOCK → fast-path senders
 *   M_WAITERS    22  nodes still waiting for room            under M_LOCK → consumer, senders
 *   M_SPARE      23  a finished segment for reuse            consumer (exchange) → producers (exchange)
 *   M_LAST_TAG   24  thread tag of the last producer         producer under M_LOCK → consumer (spin or sleep)
 *   ── consumer's line ──
 *   M_HEAD       32  messages taken (wraps)                   consumer → senders (room)
 *   M_HEAD_SEG   33  segment that holds position HEAD        consumer, (revive after a move)
 *   M_RX         34..36  receiver wake words (rx-wake.ts)
 *
 * Segment: +0 BASE (position of its first slot), +1 NEXT (next segment), then
 * slots: +0 LEN (bit 31: the value is out of line), +1 PTR (its block), bytes
 * 8..127 the inline encoding. A producer that dies inside the lock leaves TAIL
 * unmoved: its half-written slot is overwritten by the next producer (which
 * takes the lock over), and a segment it linked is reused, not linked twice.
 *
 * Waiter node (16 bytes): +0 STATE (WAITING/GRANTED/NODE_CLOSED), +1 WAKE
 * (futex word the sender sleeps on), +2 NEXT, +3 the sender's thread tag (a
 * dead sender's node is removed and its reservation returned).
 */
import { ERR_SEND_SYNC_HERE, ErrorCode, typeError, withoutStack } from '../errors.js';
import { DeadlockError } from '../sync/errors.js';
import { RELEASE, SHARED, registerSharedKind, type SharedHandle, type SharedRef } from '../shared/handle.js';
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import { assertMayBlock } from '../sync/wait.js';
import {
  H_EMBED,
  heldHere,
  H_FLAGS,
  H_CLOSE_SEQ,
  H_DROPPED_LOCAL,
  H_LIVE,
  H_MOVED,
  HEADER_WORDS,
  KIND,
  RECEIVER,
  RX_CLOSED,
  SENDER,
  TX_CLOSED,
  allocChan,
  chanOfEnd,
  checkCapacity,
  checkKind,
  claimOwner,
  dropEmbedded,
  dropListedEnd,
  handleStateError,
  initEmbedded,
  newEnd,
  reap,
  ref,
  registerChanKind,
  setFlag,
  unref,
  watchCloses,
} from './chan.js';
import { AbortedError, SendError, TryRecvError, TrySendError } from './errors.js';
import { POLL_MS, lock, selfTag, unlock } from './lock.js';
import { ARM, CLOSED, DISARM, EMPTY, ON_TIMEOUT, POLL, SPIN, type SleepWord } from './protocol.js';
import { SPIN_MS, recvBlocking, recvWait } from './recv-wait.js';
import { RX_HUB, RX_SEQ, RX_WAITING, wakeReceiver } from './rx-wake.js';
import { NOT_FAST, copyEncoded, decodeAt, dropOwnedAt, enc, encode, readFast, writeFast } from './values.js';
import { ABORTED, raceAbort, signalOf, sleepAsync } from './wait.js';
import { wake } from '../shared/wake.js';

/** blockGrant: the grant could only come from a receiver on this thread. */
const DEADLOCK = 'deadlock';

const M_CAP = HEADER_WORDS;
const M_SEG_SLOTS = HEADER_WORDS + 1;
const M_HOT = HEADER_WORDS + 2;
// Hot words, Int32 index from the 64-byte aligned hot area (M_HOT): one cache line per writer.
const M_LOCK = 0; // line 0: producers only
const M_TAIL_SEG = 1;
const M_WQ_HEAD = 2;
const M_WQ_TAIL = 3;
const M_SPARE = 4;
const M_LAST_TAG = 5;
const M_TAIL = 16; // line 1: producers write, the consumer reads
const M_HEAD = 32; // line 2: the consumer writes, producers read now and then
const M_HEAD_SEG = 33;
const M_RX = 48; // line 3: the consumer writes when it sleeps, producers read
const M_RESERVED = 64; // line 4: rarely written, read by everyone
const M_WAITERS = 65;
const HOT_WORDS = 80;
const BYTES = HEADER_WORDS * 4 + 16 + 64 + HOT_WORDS * 4;

/** Word index of the hot area of the channel at word `b`. */
function hotOf(i32: Int32Array, b: number): number {
  return Atomics.load(i32, b + M_HOT) >> 2;
}

const S_BASE = 0;
const S_NEXT = 1;
const S_SLOTS = 2;
const SEG_HEADER = 12;
/**
 * 128, not 64: a small object's encoding (four fields, ~80 bytes) then fits its slot instead of
 * costing a heap block per message (alloc, copy, free on the other thread): ~13 % less CPU per
 * object sent and received; a number still touches one cache line.
 */
const SLOT_BYTES = 128;
const INLINE = SLOT_BYTES - 8;
const OOL = 1 << 31;
const MAX_SEG_SLOTS = 31; // 12 + 60 (alignment) + 31 * 128 = 4040 bytes: one 4 KiB block, in the allocator's thread cache

const N_STATE = 0;
const N_WAKE = 1;
const N_NEXT = 2;
const N_TAG = 3;
const NODE_BYTES = 16;
const WAITING = 0;
const GRANTED = 1;
const NODE_CLOSED = 2;

/** The most capacity a bounded channel may have (it must fit in the heap, and positions in 31 bits). */
export function maxCapacity(heap: SharedHeap = globalHeap()): number {
  return Math.min(2 ** 30, Math.floor(heap.maxBytes / SLOT_BYTES));
}

const RESOLVED = Promise.resolve();
const WHAT_SEND = 'mpsc.Sender.send(value)';

function segBytes(slots: number): number {
  return SEG_HEADER + 60 + slots * SLOT_BYTES;
}

/** Initializes segment block `seg` (first position `base`): its slots start at a 64-byte boundary. */
function initSegment(heap: SharedHeap, seg: number, slots: number, base: number): void {
  const si = heap.i32For(seg + segBytes(slots));
  Atomics.store(si, (seg >> 2) + S_BASE, base);
  Atomics.store(si, (seg >> 2) + S_NEXT, 0);
  Atomics.store(si, (seg >> 2) + S_SLOTS, (seg + SEG_HEADER + 63) & ~63);
}

function newSegment(heap: SharedHeap, slots: number, base: number): number {
  const seg = heap.alloc(segBytes(slots));
  initSegment(heap, seg, slots, base);
  return seg;
}

/** An encoding kept while a sender waits for room: inline bytes, or an out-of-line block. */
interface Stash {
  n: number;
  ool: number;
  bytes: Uint8Array | null;
}

function closedSend<T>(value: T): SendError<T> {
  return new SendError('spindle: mpsc send failed: the channel is closed (its receiver was dropped or closed); the value is returned in err.value', value);
}

/** Producer.tailIfRoomLocked: no room. Not an int32, so never a position. */
const NO_ROOM = 2 ** 32;

/** The Producer that published last on this thread (any channel): see Producer.#slotLocked. */
let lastPusher: Producer | null = null;

/** The producer side of one channel as seen by this thread: the operations every sending handle shares. */
class Producer {
  readonly heap: SharedHeap;
  readonly b: number;
  /** Word index of the hot area. */
  readonly h: number;
  readonly cap: number;
  readonly segSlots: number;
  i32: Int32Array;
  deaths: number;

  constructor(heap: SharedHeap, b: number) {
    this.heap = heap;
    this.b = b;
    this.i32 = heap.i32For((b << 2) + BYTES);
    this.h = hotOf(this.i32, b);
    this.cap = Atomics.load(this.i32, b + M_CAP);
    this.segSlots = Atomics.load(this.i32, b + M_SEG_SLOTS);
    this.deaths = heap.deathCount();
  }

  closed(): boolean {
    return (Atomics.load(this.i32, this.b + H_FLAGS) & RX_CLOSED) !== 0;
  }

  /** HEAD as this thread last read it (≤ the real one: HEAD only grows), so room is re-read only when it runs out. */
  head = 0;

  /** Free slots not promised to anyone (exact: reads HEAD). */
  room(): number {
    const i32 = this.i32;
    const h = this.h;
    this.head = Atomics.load(i32, h + M_HEAD);
    return this.cap - ((Atomics.load(i32, h + M_TAIL) - this.head) | 0) - Atomics.load(i32, h + M_RESERVED);
  }

  /** Room, from the cached HEAD when that shows some (never more than the truth), else exact. */
  roomCached(): number {
    return this.#roomAt(Atomics.load(this.i32, this.h + M_TAIL));
  }

  /** roomCached() with TAIL already read (`t`). */
  #roomAt(t: number): number {
    const r = this.cap - ((t - this.head) | 0) - Atomics.load(this.i32, this.h + M_RESERVED);
    return r > 0 ? r : this.room();
  }

  /**
   * Under M_LOCK: TAIL, read once for the push that follows in the same hold
   * of the lock, or NO_ROOM when a bounded channel cannot take one more push
   * now (no room, or senders already wait for it: no barging).
   */
  tailIfRoomLocked(): number {
    const t = Atomics.load(this.i32, this.h + M_TAIL);
    if (this.cap !== 0 && (Atomics.load(this.i32, this.h + M_WAITERS) !== 0 || this.#roomAt(t) <= 0)) return NO_ROOM;
    return t;
  }

  /** TAIL. Call under M_LOCK. */
  tailLocked(): number {
    return Atomics.load(this.i32, this.h + M_TAIL);
  }

  reapIfDeaths(): void {
    if (this.heap.deathCount() !== this.deaths) this.deaths = reap(this.heap, this.b, this.deaths);
  }

  /** Encodes `value` and stashes the encoding (for a sender about to wait). */
  stash(value: unknown, what: string): Stash {
    const n = encode(value, what);
    if (n > INLINE) {
      const ool = this.heap.alloc(n);
      copyEncoded(this.heap, ool, n);
      return { n, ool, bytes: null };
    }
    return { n, ool: 0, bytes: enc.buf.slice(0, n) };
  }

  // The segment that holds TAIL, as this thread last saw it (its views and slot offset depend only on its offset).
  #seg = 0;
  #segBase = 0;
  #slots = 0;
  #si: Int32Array | null = null;
  #su8: Uint8Array | null = null;
  /** The slot #slotLocked found. */
  #slot = 0;
  /** TAIL after this producer's last publish (see #slotLocked). */
  #pubTail = 0;
  /** LAST_TAG held this thread's tag when #slotLocked read it (so #publishLocked need not store it). */
  #tagMine = false;

  /**
   * Finds the slot for position `t`, TAIL (linking a new segment when the
   * current one is full); leaves it in #slot / #si / #su8. Call under M_LOCK.
   */
  #slotLocked(t: number): void {
    const heap = this.heap;
    const i32 = this.i32;
    const h = this.h;
    const mine = (this.#tagMine = Atomics.load(i32, h + M_LAST_TAG) === selfTag);
    let seg = this.#seg;
    // safety: LAST_TAG still ours, this thread's last pusher this producer, and TAIL where its
    // publish left it: nobody has pushed since, so TAIL_SEG and its BASE are what this producer
    // saw (a segment cannot be recycled while TAIL is in it), and two loads are saved. A producer
    // that died here after linking a next segment, before publishing, left S_NEXT set: the
    // full-segment branch below follows that link, as it does for any producer.
    if (!(mine && lastPusher === this && t === this.#pubTail && seg !== 0)) {
      seg = Atomics.load(i32, h + M_TAIL_SEG);
      if (seg !== this.#seg) this.#see(seg);
      // BASE is re-read: a recycled segment comes back at the same offset with a new base.
      this.#segBase = Atomics.load(this.#si!, (seg >> 2) + S_BASE);
    }
    let idx = (t - this.#segBase) | 0;
    if (idx >= this.segSlots) {
      const si = this.#si!;
      let next = Atomics.load(si, (seg >> 2) + S_NEXT);
      if (next === 0) {
        // (A segment linked by a producer that died before publishing is reused, not linked twice.)
        next = Atomics.exchange(i32, h + M_SPARE, 0);
        if (next === 0) next = heap.alloc(segBytes(this.segSlots));
        initSegment(heap, next, this.segSlots, (this.#segBase + this.segSlots) | 0);
        Atomics.store(si, (seg >> 2) + S_NEXT, next);
      }
      Atomics.store(i32, h + M_TAIL_SEG, next);
      this.#see(next);
      idx = 0;
    }
    this.#slot = this.#slots + idx * SLOT_BYTES;
  }

  /** Publishes the slot of position `t`. Call under M_LOCK, after writing it. */
  #publishLocked(t: number): void {
    const i32 = this.i32;
    const h = this.h;
    if (!this.#tagMine) Atomics.store(i32, h + M_LAST_TAG, selfTag);
    lastPusher = this;
    // safety: the one store that publishes the slot (and ends a push a dead producer could leave half done).
    Atomics.store(i32, h + M_TAIL, (this.#pubTail = (t + 1) | 0));
  }

  /** Appends the encoding (in `enc.buf`, or `bytes`, or out of line at `ool`) at TAIL (`t`) and publishes it. Call under M_LOCK. */
  pushLocked(n: number, ool: number, bytes: Uint8Array | null, t: number): void {
    this.#slotLocked(t);
    const slot = this.#slot;
    const si = this.#si!;
    if (ool !== 0) {
      si[(slot >> 2) + 1] = ool;
      si[slot >> 2] = n | OOL;
    } else {
      if (bytes === null) copyEncoded(this.heap, slot + 8, n);
      else this.#su8!.set(bytes, slot + 8);
      si[slot >> 2] = n;
    }
    this.#publishLocked(t);
  }

  /** Writes a primitive straight into the slot at TAIL (`t`) and publishes it; false (nothing published) if it is not one. Call under M_LOCK. */
  pushFastLocked(value: unknown, t: number): boolean {
    this.#slotLocked(t);
    const slot = this.#slot;
    const n = writeFast(value, this.#su8!, slot + 8, INLINE);
    if (n < 0) return false;
    this.#si![slot >> 2] = n;
    this.#publishLocked(t);
    return true;
  }

  #see(seg: number): void {
    const end = seg + segBytes(this.segSlots);
    const si = (this.#si = this.heap.i32For(end));
    this.#su8 = this.heap.u8For(end);
    this.#seg = seg;
    this.#segBase = Atomics.load(si, (seg >> 2) + S_BASE);
    this.#slots = Atomics.load(si, (seg >> 2) + S_SLOTS);
  }

  /** Grants free room to the oldest waiting nodes. Call under M_LOCK. */
  grantLocked(): void {
    const i32 = this.i32;
    const h = this.h;
    if (Atomics.load(i32, h + M_WAITERS) === 0) return;
    let room = this.room();
    for (let n = Atomics.load(i32, h + M_WQ_HEAD); n !== 0 && room > 0; ) {
      const ni = this.heap.i32For(n + NODE_BYTES);
      const w = n >> 2;
      if (Atomics.load(ni, w + N_STATE) === WAITING) {
        Atomics.add(i32, h + M_RESERVED, 1);
        Atomics.sub(i32, h + M_WAITERS, 1);
        Atomics.store(ni, w + N_STATE, GRANTED);
        Atomics.add(ni, w + N_WAKE, 1);
        wake(ni, w + N_WAKE);
        room--;
      }
      n = Atomics.load(ni, w + N_NEXT);
    }
  }

  /** Takes the lock and grants (the consumer after taking a message, when senders wait). */
  grant(): void {
    lock(this.heap, this.i32, this.h + M_LOCK);
    this.grantLocked();
    unlock(this.i32, this.h + M_LOCK);
  }

  /** A new node appended to the wait queue (state `state`). Call under M_LOCK. */
  appendLocked(state: number): number {
    const heap = this.heap;
    const n = heap.alloc(NODE_BYTES);
    const ni = heap.i32For(n + NODE_BYTES);
    const w = n >> 2;
    Atomics.store(ni, w + N_STATE, state);
    Atomics.store(ni, w + N_WAKE, 0);
    Atomics.store(ni, w + N_NEXT, 0);
    Atomics.store(ni, w + N_TAG, selfTag);
    const i32 = this.i32;
    const h = this.h;
    const last = Atomics.load(i32, h + M_WQ_TAIL);
    if (last === 0) Atomics.store(i32, h + M_WQ_HEAD, n);
    else Atomics.store(heap.i32For(last + NODE_BYTES), (last >> 2) + N_NEXT, n);
    Atomics.store(i32, h + M_WQ_TAIL, n);
    if (state === WAITING) Atomics.add(i32, h + M_WAITERS, 1);
    else Atomics.add(i32, h + M_RESERVED, 1);
    return n;
  }

  /** Unlinks node `n` and gives back what it held (a wait or a reservation). Call under M_LOCK. */
  removeLocked(n: number): void {
    const heap = this.heap;
    const i32 = this.i32;
    const h = this.h;
    let prev = 0;
    for (let x = Atomics.load(i32, h + M_WQ_HEAD); x !== 0 && x !== n; ) {
      prev = x;
      x = Atomics.load(heap.i32For(x + NODE_BYTES), (x >> 2) + N_NEXT);
    }
    const ni = heap.i32For(n + NODE_BYTES);
    const next = Atomics.load(ni, (n >> 2) + N_NEXT);
    if (prev === 0) Atomics.store(i32, h + M_WQ_HEAD, next);
    else Atomics.store(heap.i32For(prev + NODE_BYTES), (prev >> 2) + N_NEXT, next);
    if (Atomics.load(i32, h + M_WQ_TAIL) === n) Atomics.store(i32, h + M_WQ_TAIL, prev);
    const st = Atomics.load(ni, (n >> 2) + N_STATE);
    if (st === WAITING) Atomics.sub(i32, h + M_WAITERS, 1);
    else if (st === GRANTED) Atomics.sub(i32, h + M_RESERVED, 1);
    Atomics.store(ni, (n >> 2) + N_STATE, NODE_CLOSED);
  }

  /** Removes node `n`, passes its room on, frees it. */
  releaseNode(n: number): void {
    lock(this.heap, this.i32, this.h + M_LOCK);
    this.removeLocked(n);
    this.grantLocked();
    unlock(this.i32, this.h + M_LOCK);
    this.heap.free(n);
  }

  /**
   * Pushes the encoding using node `n`'s reservation (or pushes nothing and
   * returns false if the receiver is gone). Frees the node.
   */
  pushWithNode(n: number, s: Stash | null): boolean {
    lock(this.heap, this.i32, this.h + M_LOCK);
    this.removeLocked(n);
    const ok = !this.closed();
    if (ok) {
      const t = this.tailLocked();
      if (s === null) this.pushLocked(encLen, 0, null, t);
      else this.pushLocked(s.n, s.ool, s.bytes, t);
    }
    unlock(this.i32, this.h + M_LOCK);
    this.heap.free(n);
    if (ok) wakeReceiver(this.heap, this.i32, this.h + M_RX);
    return ok;
  }

  /** Queues a waiting node; returns it (possibly granted at once), or 0 when the channel is closed. */
  enqueue(): number {
    lock(this.heap, this.i32, this.h + M_LOCK);
    if (this.closed()) {
      unlock(this.i32, this.h + M_LOCK);
      return 0;
    }
    const n = this.appendLocked(WAITING);
    // safety: WAITERS went up before this look at HEAD; the consumer stores HEAD before
    // it reads WAITERS. So either it sees us and grants, or we see its room here.
    this.grantLocked();
    unlock(this.i32, this.h + M_LOCK);
    return n;
  }

  /**
   * A waiting sender grants room itself when it sees some: the consumer
   * grants only in batches (or when it runs dry), so that a full channel does
   * not cost a wake-up per message; this keeps a waiter from depending on it.
   */
  selfGrant(): void {
    if (this.room() > 0) this.grant();
  }

  /** Waits (without blocking the thread) until node `n` is granted; false if the channel closed. */
  async awaitGrant(n: number, signal: AbortSignal | undefined, what: string): Promise<boolean> {
    const heap = this.heap;
    let end = 0;
    // The receiver on this very thread can make room only once this call yields: no spin then
    // (it would hold the thread for SPIN_MS per send into a full channel).
    let spins = heldHere(this.i32, this.b + H_EMBED) ? 1 << 30 : 0;
    for (; ; spins++) {
      const ni = heap.i32For(n + NODE_BYTES);
      const w = n >> 2;
      const st = Atomics.load(ni, w + N_STATE);
      if (st === GRANTED) return true;
      if (st === NODE_CLOSED) return false;
      if (signal?.aborted) throw new AbortedError(what, signal.reason);
      if ((spins & 31) === 31) {
        this.selfGrant();
        if (end === 0) end = performance.now() + SPIN_MS;
        else if (performance.now() > end) spins = -1 >>> 1; // done spinning
      }
      if (spins < 1 << 30) continue;
      const wake = Atomics.load(ni, w + N_WAKE);
      if (Atomics.load(ni, w + N_STATE) !== st) continue;
      const s = sleepAsync(ni, w + N_WAKE, wake, POLL_MS);
      if (s === undefined) continue;
      const out = await raceAbort(s, signal);
      if (out === ABORTED) throw new AbortedError(what, signal!.reason);
      if (out === 'timed-out') {
        this.reapIfDeaths();
        this.selfGrant();
      }
    }
  }

  /**
   * Blocks the thread until node `n` is granted: true; false if the channel
   * closed; DEADLOCK if the grant can only come from a receiver on this very
   * thread (which the block would stop).
   */
  blockGrant(n: number): boolean | typeof DEADLOCK {
    const heap = this.heap;
    let end = 0;
    for (let spins = 0; ; spins++) {
      const ni = heap.i32For(n + NODE_BYTES);
      const w = n >> 2;
      const st = Atomics.load(ni, w + N_STATE);
      if (st === GRANTED) return true;
      if (st === NODE_CLOSED) return false;
      if ((spins & 31) === 31) {
        this.selfGrant();
        // No room after our own look: only the receiver can make some, and if it is ours, never.
        if (Atomics.load(ni, w + N_STATE) === st && heldHere(this.i32, this.b + H_EMBED)) return DEADLOCK;
        if (end === 0) end = performance.now() + SPIN_MS;
        else if (performance.now() > end) spins = -1 >>> 1;
      }
      if (spins < 1 << 30) continue;
      const wake = Atomics.load(ni, w + N_WAKE);
      if (Atomics.load(ni, w + N_STATE) !== st) continue;
      if (Atomics.wait(ni, w + N_WAKE, wake, POLL_MS) === 'timed-out') {
        this.reapIfDeaths();
        this.selfGrant();
      }
    }
  }

  /** Gives back a stash that was never pushed. */
  dropStash(s: Stash): void {
    if (s.ool !== 0) this.heap.free(s.ool);
  }
}

/** Length of the last encoding (pushWithNode(n, null) pushes enc.buf). */
let encLen = 0;

/**
 * The sending half of an mpsc channel. Clone it for more producers; the
 * channel ends for the receiver when every sender is dropped. Passing it to
 * `spawn` (or through a channel) moves it; `clone()` first to keep one.
 */
export class Sender<T> implements SharedHandle, Disposable {
  readonly #p: Producer;
  readonly #e: number;
  #state = H_LIVE;
  readonly #dead: boolean;
  #pending = 0;
  /** Set by [RELEASE] while a call waits: that call drops the end when it settles. */
  #dropWhenIdle = false;

  /** @internal Made by mpsc.channel(), clone() and the reviver. */
  constructor(heap: SharedHeap, e: number, dead = false) {
    this.#e = e;
    this.#dead = dead;
    this.#p = new Producer(heap, chanOfEnd(heap, e));
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'mpsc.Sender', op);
  }

  /**
   * Sends `value`, waiting while a bounded channel is full (FIFO among waiting
   * senders). Rejects with `SendError` (the value in `err.value`) if the
   * receiver is gone, `AbortedError` if `signal` fires first — then nothing
   * was sent. A value that cannot be encoded is a `TypeError`.
   */
  send(value: T, opts?: { signal?: AbortSignal }): Promise<void> {
    this.#use('send()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'mpsc.Sender.send()');
    if (signal?.aborted) return Promise.reject(new AbortedError('mpsc.Sender.send()', signal.reason));
    let r: boolean | Stash;
    try {
      r = this.#fast(value);
    } catch (e) {
      return Promise.reject(e);
    }
    if (r === true) return RESOLVED;
    return this.#slow(value, signal, r === false ? null : r);
  }

  /** Tries to push without waiting: true when sent, false when full (nothing encoded), a stash when full after encoding. */
  #fast(value: T): boolean | Stash {
    const p = this.#p;
    p.reapIfDeaths();
    if (this.#dead) throw closedSend(value);
    const i32 = p.i32;
    const h = p.h;
    const type = typeof value;
    if (type === 'number' || type === 'boolean' || (type === 'string' && (value as string).length <= INLINE - 5) || value == null) {
      // A primitive: checked and written under the lock in one go, no Encoder.
      lock(p.heap, i32, h + M_LOCK);
      if (p.closed()) {
        unlock(i32, h + M_LOCK);
        throw closedSend(value);
      }
      const t = p.tailIfRoomLocked();
      if (t === NO_ROOM) {
        unlock(i32, h + M_LOCK);
        return false;
      }
      const ok = p.pushFastLocked(value, t);
      unlock(i32, h + M_LOCK);
      if (ok) {
        if (Atomics.load(i32, h + M_RX + RX_WAITING) !== 0) wakeReceiver(p.heap, i32, h + M_RX);
        return true;
      }
      // (A non-Latin-1 string: the general path below.)
    }
    if (p.closed()) throw closedSend(value);
    if (p.cap !== 0 && (Atomics.load(i32, h + M_WAITERS) !== 0 || p.roomCached() <= 0)) return false;
    const n = encode(value, WHAT_SEND);
    let ool = 0;
    if (n > INLINE) {
      ool = p.heap.alloc(n);
      copyEncoded(p.heap, ool, n);
    }
    lock(p.heap, i32, h + M_LOCK);
    if (p.closed()) {
      unlock(i32, h + M_LOCK);
      if (ool !== 0) p.heap.free(ool);
      throw closedSend(value);
    }
    const t = p.tailIfRoomLocked();
    if (t === NO_ROOM) {
      // Lost the last slot to another sender between the look and the lock: wait with the encoding.
      unlock(i32, h + M_LOCK);
      return { n, ool, bytes: ool === 0 ? enc.buf.slice(0, n) : null };
    }
    p.pushLocked(n, ool, null, t);
    unlock(i32, h + M_LOCK);
    wakeReceiver(p.heap, i32, h + M_RX);
    return true;
  }

  async #slow(value: T, signal: AbortSignal | undefined, stash: Stash | null): Promise<void> {
    const p = this.#p;
    const s = stash ?? p.stash(value, WHAT_SEND);
    this.#pending++;
    ref(p.i32, p.b);
    let pushed = false;
    try {
      const n = p.enqueue();
      if (n === 0) throw closedSend(value);
      let granted: boolean;
      try {
        granted = await p.awaitGrant(n, signal, 'mpsc.Sender.send()');
      } catch (e) {
        p.releaseNode(n);
        throw e;
      }
      if (!granted) {
        p.releaseNode(n);
        throw closedSend(value);
      }
      pushed = p.pushWithNode(n, s);
      if (!pushed) throw closedSend(value);
    } finally {
      if (!pushed) p.dropStash(s);
      this.#pending--;
      if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
      unref(p.heap, p.b);
    }
  }

  /**
   * Sends without waiting. Throws `TrySendError`: `isFull()` when a bounded
   * channel has no free slot (or senders already wait), `isClosed()` when the
   * receiver is gone; the value is in `err.value`.
   */
  trySend(value: T): void {
    this.#use('trySend()');
    const p = this.#p;
    p.reapIfDeaths();
    if (this.#dead || p.closed()) throw new TrySendError('spindle: mpsc trySend failed: the channel is closed', value, ErrorCode.CLOSED);
    const i32 = p.i32;
    const h = p.h;
    lock(p.heap, i32, h + M_LOCK);
    try {
      if (p.closed()) throw new TrySendError('spindle: mpsc trySend failed: the channel is closed', value, ErrorCode.CLOSED);
      const t = p.tailIfRoomLocked();
      if (t === NO_ROOM) {
        throw withoutStack(() => new TrySendError(`spindle: mpsc trySend failed: the channel is full (capacity ${p.cap})`, value, ErrorCode.CHANNEL_FULL));
      }
      // Encoded under the lock: a trySend that fails never moves the handles inside its value.
      const n = encode(value, 'mpsc.Sender.trySend(value)');
      let ool = 0;
      if (n > INLINE) {
        ool = p.heap.alloc(n);
        copyEncoded(p.heap, ool, n);
      }
      p.pushLocked(n, ool, null, t);
    } finally {
      unlock(i32, h + M_LOCK);
    }
    wakeReceiver(p.heap, i32, h + M_RX);
  }

  /**
   * Blocks the thread until `value` is sent (workers only: on the main thread
   * it throws `MainThreadBlockingError`). Throws `SendError` if the receiver is gone.
   */
  sendSync(value: T): void {
    this.#use('sendSync()');
    assertMayBlock('mpsc.Sender.sendSync()');
    const r = this.#fast(value);
    if (r === true) return;
    const p = this.#p;
    const s = r === false ? p.stash(value, WHAT_SEND) : r;
    ref(p.i32, p.b);
    let pushed = false;
    try {
      const n = p.enqueue();
      if (n === 0) throw closedSend(value);
      const granted = p.blockGrant(n);
      if (granted !== true) {
        p.releaseNode(n);
        if (granted === DEADLOCK) throw new DeadlockError(ERR_SEND_SYNC_HERE);
        throw closedSend(value);
      }
      pushed = p.pushWithNode(n, s);
      if (!pushed) throw closedSend(value);
    } finally {
      if (!pushed) p.dropStash(s);
      unref(p.heap, p.b);
    }
  }

  /** Tokio's name for {@link sendSync}. */
  blockingSend(value: T): void {
    this.sendSync(value);
  }

  /**
   * Waits for room and reserves one slot: `permit.send(v)` then sends without
   * waiting. Aborting (through `signal`) reserves nothing.
   */
  async reserve(opts?: { signal?: AbortSignal }): Promise<Permit<T>> {
    this.#use('reserve()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'mpsc.Sender.reserve()');
    if (signal?.aborted) throw new AbortedError('mpsc.Sender.reserve()', signal.reason);
    const p = this.#p;
    p.reapIfDeaths();
    if (this.#dead) throw closedSend(undefined);
    ref(p.i32, p.b);
    try {
      if (p.cap === 0) {
        lock(p.heap, p.i32, p.h + M_LOCK);
        const closed = p.closed();
        const n = closed ? 0 : p.appendLocked(GRANTED);
        unlock(p.i32, p.h + M_LOCK);
        if (closed) throw closedSend(undefined);
        return new Permit<T>(p, n);
      }
      this.#pending++;
      try {
        const n = p.enqueue();
        if (n === 0) throw closedSend(undefined);
        let granted: boolean;
        try {
          granted = await p.awaitGrant(n, signal, 'mpsc.Sender.reserve()');
        } catch (e) {
          p.releaseNode(n);
          throw e;
        }
        if (!granted) {
          p.releaseNode(n);
          throw closedSend(undefined);
        }
        return new Permit<T>(p, n);
      } finally {
        this.#pending--;
        if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
      }
    } catch (e) {
      unref(p.heap, p.b);
      throw e;
    }
  }

  /** A new sender on the same channel. */
  clone(): Sender<T> {
    this.#use('clone()');
    const p = this.#p;
    if (this.#dead) return new Sender<T>(p.heap, this.#e, true);
    return new Sender<T>(p.heap, newEnd(p.heap, p.b, KIND.mpscSender, SENDER));
  }

  /** Drops this sender; when it was the last, the receiver sees the end after the queued values. */
  drop(): void {
    this.#use('drop()');
    if (this.#pending > 0) {
      throw typeError('spindle: mpsc.Sender.drop(): a send on this Sender is still waiting; await it (or abort it) before dropping the Sender');
    }
    this.#state = H_DROPPED_LOCAL;
    if (!this.#dead) dropListedEnd(this.#p.heap, this.#e);
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

  /** True once the receiver is gone (dropped, closed, or its thread died). */
  isClosed(): boolean {
    this.#use('isClosed()');
    this.#p.reapIfDeaths();
    return this.#dead || this.#p.closed();
  }

  /**
   * Resolves when the receiver is gone. With `{ signal }`: rejects with
   * `AbortedError` when it fires (a `closed()` takes nothing, so abandoning one is always safe).
   */
  async closed(opts?: { signal?: AbortSignal }): Promise<void> {
    this.#use('closed()');
    const signal = signalOf(opts, 'mpsc.Sender.closed()');
    if (signal?.aborted) throw new AbortedError('mpsc.Sender.closed()', signal.reason);
    const p = this.#p;
    if (this.#dead) return;
    ref(p.i32, p.b);
    watchCloses(p.i32, p.b);
    try {
      for (;;) {
        p.reapIfDeaths();
        const seq = Atomics.load(p.i32, p.b + H_CLOSE_SEQ);
        if (p.closed()) return;
        const s = sleepAsync(p.i32, p.b + H_CLOSE_SEQ, seq, POLL_MS);
        if (s !== undefined && (await raceAbort(s, signal)) === ABORTED) throw new AbortedError('mpsc.Sender.closed()', signal!.reason);
      }
    } finally {
      unref(p.heap, p.b);
    }
  }

  /** Free slots now (bounded), or Infinity for an unbounded channel. */
  capacity(): number {
    this.#use('capacity()');
    return this.#p.cap === 0 ? Infinity : Math.max(0, this.#p.room());
  }

  /** The channel's capacity (Infinity when unbounded). */
  maxCapacity(): number {
    this.#use('maxCapacity()');
    return this.#p.cap === 0 ? Infinity : this.#p.cap;
  }

  /** True when both senders feed the same channel. */
  sameChannel(other: Sender<T>): boolean {
    return other instanceof Sender && other.#p.heap === this.#p.heap && other.#p.b === this.#p.b;
  }

  /** The shared-handle protocol: the sender moves to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    return { kind: 'mpsc.Sender', heap: this.#p.heap, offset: this.#e, generation: this.#p.heap.generation(this.#e), commit: () => { this.#state = H_MOVED; } };
  }
}

/** One reserved slot of a bounded channel: `send(v)` uses it (never waits), `release()` gives it back. */
export class Permit<T> implements Disposable {
  readonly #p: Producer;
  #node: number;

  /** @internal */
  constructor(p: Producer, node: number) {
    this.#p = p;
    this.#node = node;
  }

  /** Sends `value` in the reserved slot. Throws `SendError` if the receiver is gone meanwhile. */
  send(value: T): void {
    const n = this.#node;
    if (n === 0) throw typeError('spindle: Permit.send(): this permit was already used or released');
    const p = this.#p;
    encLen = encode(value, 'Permit.send(value)');
    let s: Stash | null = null;
    if (encLen > INLINE) {
      const ool = p.heap.alloc(encLen);
      copyEncoded(p.heap, ool, encLen);
      s = { n: encLen, ool, bytes: null };
    }
    this.#node = 0;
    const ok = p.pushWithNode(n, s);
    unref(p.heap, p.b);
    if (!ok) {
      if (s !== null) p.dropStash(s);
      throw closedSend(value);
    }
  }

  /** Gives the slot back unused. */
  release(): void {
    const n = this.#node;
    if (n === 0) return;
    this.#node = 0;
    this.#p.releaseNode(n);
    unref(this.#p.heap, this.#p.b);
  }

  /**
   * `release()` at the end of a `using` block: a permit not used gives its slot back.
   *
   * ```ts
   * {
   *   using permit = await tx.reserve();
   *   const job = await prepare(); // if this throws, the slot goes back
   *   permit.send(job);
   * }
   * ```
   */
  [Symbol.dispose](): void {
    this.release();
  }
}

// Speaks the poll protocol (protocol.ts) that recv and select drive, without naming the internal
// Pollable in `implements` (the API docs would show it): test/channel/protocol.test.ts checks it.
/**
 * The receiving half of an mpsc channel (one per channel). `await recv()`
 * gives the next value, or `undefined` once every sender is dropped and the
 * queue is drained. Cancel-safe: an aborted `recv({ signal })` takes nothing.
 */
export class Receiver<T> implements SharedHandle, Disposable, AsyncIterable<T> {
  readonly #heap: SharedHeap;
  readonly #b: number;
  readonly #i32: Int32Array;
  readonly #cap: number;
  /** Grant waiting senders room only once this much is free (see POLL). */
  readonly #grantBatch: number;
  readonly #segSlots: number;
  readonly #dead: boolean;
  #state = H_LIVE;
  #pending = 0;
  /** Set by [RELEASE] while a call waits: that call drops the end when it settles. */
  #dropWhenIdle = false;
  #deaths: number;
  #producer: Producer | null = null;
  /** Word index of the hot area. */
  readonly #hb: number;
  // Consumer position, cached here (this thread is the only consumer).
  #head: number;
  #t: number;
  #seg: number;
  #segBase: number;
  /** Byte offset of the current segment's first slot (64-byte aligned). */
  #slots: number;
  #si: Int32Array;
  #su8: Uint8Array;

  /** @internal Made by mpsc.channel() and the reviver. */
  constructor(heap: SharedHeap, b: number, dead = false) {
    this.#heap = heap;
    this.#b = b;
    this.#dead = dead;
    const i32 = (this.#i32 = heap.i32For((b << 2) + BYTES));
    this.#deaths = heap.deathCount();
    if (dead) {
      this.#cap = this.#segSlots = this.#head = this.#t = this.#seg = this.#segBase = this.#slots = this.#hb = this.#grantBatch = 0;
      this.#si = i32;
      this.#su8 = heap.u8;
      return;
    }
    const hb = (this.#hb = hotOf(i32, b));
    this.#cap = Atomics.load(i32, b + M_CAP);
    this.#grantBatch = Math.max(1, Math.min(64, this.#cap >> 3));
    this.#segSlots = Atomics.load(i32, b + M_SEG_SLOTS);
    this.#head = this.#t = Atomics.load(i32, hb + M_HEAD);
    this.#seg = Atomics.load(i32, hb + M_HEAD_SEG);
    this.#si = heap.i32For(this.#seg + segBytes(this.#segSlots));
    this.#su8 = heap.u8For(this.#seg + segBytes(this.#segSlots));
    this.#segBase = Atomics.load(this.#si, (this.#seg >> 2) + S_BASE);
    this.#slots = Atomics.load(this.#si, (this.#seg >> 2) + S_SLOTS);
  }

  #use(op: string): void {
    if (this.#state !== H_LIVE) throw handleStateError(this.#state, 'mpsc.Receiver', op);
  }

  /**
   * @internal The poll protocol (protocol.ts) that `recv` and `select` drive. Takes the next value: the
   * value, EMPTY, or CLOSED. The only place a value is consumed.
   */
  [POLL](): T | typeof EMPTY | typeof CLOSED {
    const head = this.#head;
    if (head === this.#t) {
      if (this.#dead) return CLOSED;
      const i32 = this.#i32;
      const t = (this.#t = Atomics.load(i32, this.#hb + M_TAIL));
      if (head === t) {
        if ((Atomics.load(i32, this.#b + H_FLAGS) & (TX_CLOSED | RX_CLOSED)) === 0) return EMPTY;
        // Closed: a value published just before the close must still be seen.
        this.#t = Atomics.load(i32, this.#hb + M_TAIL);
        if (head === this.#t) return CLOSED;
      }
    }
    let idx = (head - this.#segBase) | 0;
    if (idx >= this.#segSlots) {
      this.#nextSegment();
      idx = 0;
    }
    const heap = this.#heap;
    const slot = this.#slots + idx * SLOT_BYTES;
    const si = this.#si;
    const len = si[slot >> 2]!;
    try {
      if (len < 0) {
        const n = len & ~OOL;
        const ptr = si[(slot >> 2) + 1]!;
        try {
          return decodeAt(heap, ptr, ptr + n) as T;
        } finally {
          heap.free(ptr);
        }
      }
      const v = readFast(this.#su8, slot + 8, len);
      return (v !== NOT_FAST ? v : decodeAt(heap, slot + 8, slot + 8 + len)) as T;
    } finally {
      const i32 = this.#i32;
      const hb = this.#hb;
      const nh = (this.#head = (head + 1) | 0);
      Atomics.store(i32, hb + M_HEAD, nh);
      // safety: HEAD is stored before WAITERS is read (see Producer.enqueue). Room is granted
      // in batches (a wake-up per message would cost more than the message); a waiting sender
      // also grants itself what it sees, and ARM grants everything before this receiver sleeps.
      if (this.#cap !== 0 && Atomics.load(i32, hb + M_WAITERS) !== 0 && this.#roomApprox() >= this.#grantBatch) this.#prod().grant();
    }
  }

  /** Free slots as this consumer sees them (TAIL as last read: never more than the truth). */
  #roomApprox(): number {
    return this.#cap - ((this.#t - this.#head) | 0) - Atomics.load(this.#i32, this.#hb + M_RESERVED);
  }

  #prod(): Producer {
    return (this.#producer ??= new Producer(this.#heap, this.#b));
  }

  #nextSegment(): void {
    const heap = this.#heap;
    const old = this.#seg;
    const next = Atomics.load(this.#si, (old >> 2) + S_NEXT);
    this.#seg = next;
    this.#si = heap.i32For(next + segBytes(this.#segSlots));
    this.#su8 = heap.u8For(next + segBytes(this.#segSlots));
    this.#segBase = Atomics.load(this.#si, (next >> 2) + S_BASE);
    this.#slots = Atomics.load(this.#si, (next >> 2) + S_SLOTS);
    Atomics.store(this.#i32, this.#hb + M_HEAD_SEG, next);
    // safety: the producers moved past `old` (TAIL is beyond it), so it is ours to recycle.
    const prev = Atomics.exchange(this.#i32, this.#hb + M_SPARE, old);
    if (prev !== 0) heap.free(prev);
  }

  /**
   * @internal The poll protocol: prepares to sleep (asks the senders to wake the select word `hub`, or
   * returns a word of its own to sleep on).
   */
  [ARM](hub: number): SleepWord | undefined {
    const i32 = this.#i32;
    const w = this.#hb + M_RX;
    // About to sleep on an empty channel: let every waiting sender in first.
    if (this.#cap !== 0 && Atomics.load(i32, this.#hb + M_WAITERS) !== 0) this.#prod().grant();
    if (hub !== 0) Atomics.store(i32, w + RX_HUB, hub);
    Atomics.store(i32, w + RX_WAITING, 1);
    return hub !== 0 ? undefined : { i32, idx: w + RX_SEQ, value: Atomics.load(i32, w + RX_SEQ) };
  }

  /** @internal The poll protocol: undoes ARM. */
  [DISARM](): void {
    Atomics.store(this.#i32, this.#hb + M_RX + RX_WAITING, 0);
    Atomics.store(this.#i32, this.#hb + M_RX + RX_HUB, 0);
  }

  /** @internal The poll protocol: a sleep ran out; looks for dead threads holding ends. */
  [ON_TIMEOUT](): void {
    if (!this.#dead && this.#heap.deathCount() !== this.#deaths) this.#deaths = reap(this.#heap, this.#b, this.#deaths);
  }

  /**
   * @internal The poll protocol: whether a short busy-wait before sleeping is worth it (the value would
   * come from another thread).
   */
  [SPIN](): boolean {
    const tag = this.#dead ? selfTag : Atomics.load(this.#i32, this.#hb + M_LAST_TAG);
    return tag !== 0 && tag !== selfTag;
  }

  /**
   * The next value, or `undefined` once every sender is gone and nothing is
   * left. With `{ signal }`: rejects with `AbortedError` when it fires, and
   * then took nothing (the value stays for the next receive). `{ ref: false }`:
   * the wait does not keep the process alive (a MessagePort after `unref()`).
   */
  recv(opts?: { signal?: AbortSignal; ref?: boolean }): Promise<T | undefined> {
    this.#use('recv()');
    const signal = opts === undefined ? undefined : signalOf(opts, 'mpsc.Receiver.recv()');
    return this.#recv(signal, opts?.ref !== false, false);
  }

  /**
   * @internal `recv({ signal, ref })` for a loop that has just handed a message to code that
   * answers from promise callbacks (an endpoint's listeners): when nothing is queued, no polls
   * before its thread's queued callbacks have run. They would only hold up the very message the
   * other side must see before it can answer (recvWait: the spin waits for a setImmediate).
   */
  _recvAfterDispatch(signal: AbortSignal | undefined, ref: boolean): Promise<T | undefined> {
    this.#use('recv()');
    return this.#recv(signal, ref, true);
  }

  #recv(signal: AbortSignal | undefined, ref: boolean, polled: boolean): Promise<T | undefined> {
    if (signal?.aborted) return Promise.reject(new AbortedError('mpsc.Receiver.recv()', signal.reason));
    try {
      const r = this[POLL]();
      if (r !== EMPTY) return Promise.resolve(r === CLOSED ? undefined : r);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#wait(signal, ref, polled).then(endToUndefined);
  }

  /** `polled`: skip recvWait's first polls (see _recvAfterDispatch). */
  async #wait(signal: AbortSignal | undefined, ref = true, polled = false): Promise<T | typeof CLOSED> {
    this.#pending++;
    try {
      return await recvWait(this, signal, 'mpsc.Receiver.recv()', ref, polled);
    } finally {
      this.#pending--;
      if (this.#dropWhenIdle && this.#pending === 0 && this.#state === H_LIVE) this.drop();
    }
  }

  /** A value if one is queued now; throws `TryRecvError` (`isEmpty()` / `isClosed()`) otherwise. */
  tryRecv(): T {
    this.#use('tryRecv()');
    this[ON_TIMEOUT]();
    const r = this[POLL]();
    if (r === EMPTY) throw withoutStack(() => new TryRecvError(ErrorCode.CHANNEL_EMPTY, 'spindle: mpsc tryRecv: the channel is empty'));
    if (r === CLOSED) throw new TryRecvError(ErrorCode.CLOSED, 'spindle: mpsc tryRecv: the channel is closed and empty');
    return r;
  }

  /** Blocks the thread for the next value (`undefined` at the end). Workers only. */
  recvSync(): T | undefined {
    this.#use('recvSync()');
    return endToUndefined(recvBlocking(this, 'mpsc.Receiver.recvSync()'));
  }

  /** Tokio's name for {@link recvSync}. */
  blockingRecv(): T | undefined {
    return this.recvSync();
  }

  /**
   * Waits for at least one value, then appends up to `limit` queued values to
   * `buffer`; resolves with how many (0 once the channel has ended).
   */
  async recvMany(buffer: T[], limit: number, opts?: { signal?: AbortSignal }): Promise<number> {
    this.#use('recvMany()');
    if (!Array.isArray(buffer)) throw typeError('spindle: mpsc.Receiver.recvMany(buffer, limit): buffer must be an array');
    if (!Number.isInteger(limit) || limit < 0) {
      throw Object.assign(new RangeError(`spindle: mpsc.Receiver.recvMany(buffer, limit): limit must be a non-negative integer, got ${String(limit)}`), {
        code: ErrorCode.INVALID_ARG,
      });
    }
    if (limit === 0) return 0;
    const signal = opts === undefined ? undefined : signalOf(opts, 'mpsc.Receiver.recvMany()');
    if (signal?.aborted) throw new AbortedError('mpsc.Receiver.recvMany()', signal.reason);
    let r = this[POLL]();
    if (r === EMPTY) r = await this.#wait(signal);
    if (r === CLOSED) return 0;
    buffer.push(r as T);
    let n = 1;
    while (n < limit) {
      r = this[POLL]();
      if (r === EMPTY || r === CLOSED) break;
      buffer.push(r);
      n++;
    }
    return n;
  }

  /** `for await (const v of receiver)`: every value until the channel ends. */
  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    this.#use('[Symbol.asyncIterator]()');
    const next = (): Promise<IteratorResult<T>> => {
      try {
        const r = this[POLL]();
        if (r !== EMPTY) return Promise.resolve(r === CLOSED ? { done: true, value: undefined } : { done: false, value: r });
      } catch (e) {
        return Promise.reject(e);
      }
      return this.#wait(undefined).then((v) => (v === CLOSED ? { done: true, value: undefined } : { done: false, value: v }));
    };
    return {
      next,
      return: () => Promise.resolve({ done: true, value: undefined }),
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  /**
   * Closes the channel for sending, keeping what is queued: senders fail from
   * now on, `recv` drains the queue and then ends.
   */
  close(): void {
    this.#use('close()');
    this.#close();
  }

  #close(): void {
    if (this.#dead) return;
    const i32 = this.#i32;
    const b = this.#b;
    if (setFlag(i32, b, RX_CLOSED)) closeSenders(this.#heap, i32, b);
  }

  /** Values queued now. */
  len(): number {
    this.#use('len()');
    if (this.#dead) return 0;
    return (Atomics.load(this.#i32, this.#hb + M_TAIL) - this.#head) | 0;
  }

  /** True when nothing is queued now. */
  isEmpty(): boolean {
    return this.len() === 0;
  }

  /** True once every sender is gone (or `close()` was called). */
  isClosed(): boolean {
    this.#use('isClosed()');
    this[ON_TIMEOUT]();
    return this.#dead || (Atomics.load(this.#i32, this.#b + H_FLAGS) & (TX_CLOSED | RX_CLOSED)) !== 0;
  }

  /** The bound of the channel (Infinity when unbounded). */
  maxCapacity(): number {
    this.#use('maxCapacity()');
    return this.#cap === 0 ? Infinity : this.#cap;
  }

  /** Drops the receiver: the channel closes for senders, and what is still queued is freed. */
  drop(): void {
    this.#use('drop()');
    if (this.#pending > 0) throw typeError('spindle: mpsc.Receiver.drop(): a recv on this Receiver is still waiting; await it (or abort it) first');
    this.#state = H_DROPPED_LOCAL;
    if (this.#dead) return;
    this.#close();
    // Free the values still queued, dropping the handles moved into them (a request's reply end).
    for (;;) {
      const h = this.#head;
      if (h === Atomics.load(this.#i32, this.#hb + M_TAIL)) break;
      let idx = (h - this.#segBase) | 0;
      if (idx >= this.#segSlots) {
        this.#nextSegment();
        idx = 0;
      }
      const slot = this.#slots + idx * SLOT_BYTES;
      dropSlotValue(this.#heap, this.#si, slot);
      this.#head = (h + 1) | 0;
      Atomics.store(this.#i32, this.#hb + M_HEAD, this.#head);
    }
    dropEmbedded(this.#heap, this.#b, 0, RECEIVER);
  }

  /**
   * `drop()` at the end of a `using` block (nothing if already dropped or moved).
   *
   * ```ts
   * {
   *   using inbox = rx;
   *   for await (const job of inbox) if (job === 'stop') break;
   * } // dropped here: the senders' `send` fails from now on
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
    if (this.#state !== H_LIVE) return;
    if (this.#pending === 0) this.drop();
    else this.#dropWhenIdle = true;
  }

  /** The shared-handle protocol: the receiver moves to the receiving thread. */
  [SHARED](): SharedRef {
    this.#use('send');
    if (this.#pending > 0) throw typeError('spindle: an mpsc.Receiver cannot be moved while a recv on it is waiting');
    return { kind: 'mpsc.Receiver', heap: this.#heap, offset: this.#b << 2, generation: this.#heap.generation(this.#b << 2), commit: () => { this.#state = H_MOVED; } };
  }
}

/**
 * The receiver is gone: drop the values still queued (and the handles in them,
 * such as requests' reply oneshots) now, not when the last sender drops. A
 * receiver that drops drains the queue itself first, so this finds work only
 * when the receiver's thread died with values queued.
 */
function dropQueued(heap: SharedHeap, i32: Int32Array, b: number): void {
  const h = hotOf(i32, b);
  // safety: RX_CLOSED is set and closeSenders passed the lock after it, so no push can land any
  // more (pushes check it under the lock) and no receiver takes: TAIL and HEAD are final.
  const tail = dropValues(heap, i32, b);
  // HEAD == TAIL: release() finds nothing left to drop; the segments stay chained from HEAD_SEG for it to free.
  Atomics.store(i32, h + M_HEAD, tail);
}

/**
 * Drops every value queued from HEAD to TAIL (neither may move meanwhile: the
 * caller makes sure of it) and returns TAIL. The segments are left as they are.
 */
function dropValues(heap: SharedHeap, i32: Int32Array, b: number): number {
  const h = hotOf(i32, b);
  const tail = Atomics.load(i32, h + M_TAIL);
  let pos = Atomics.load(i32, h + M_HEAD);
  if (pos === tail) return tail;
  const slots = Atomics.load(i32, b + M_SEG_SLOTS);
  const bytes = segBytes(slots);
  let seg = Atomics.load(i32, h + M_HEAD_SEG);
  for (; pos !== tail; pos = (pos + 1) | 0) {
    let si = heap.i32For(seg + bytes);
    let idx = (pos - Atomics.load(si, (seg >> 2) + S_BASE)) | 0;
    if (idx >= slots) {
      seg = Atomics.load(si, (seg >> 2) + S_NEXT);
      si = heap.i32For(seg + bytes);
      idx = 0;
    }
    dropSlotValue(heap, si, Atomics.load(si, (seg >> 2) + S_SLOTS) + idx * SLOT_BYTES);
  }
  return tail;
}

/** Drops the handles in a queued value nobody will receive, and frees its out-of-line block. */
function dropSlotValue(heap: SharedHeap, si: Int32Array, slot: number): void {
  const len = si[slot >> 2]!;
  if (len < 0) {
    const ptr = si[(slot >> 2) + 1]!;
    dropOwnedAt(heap, ptr, ptr + (len & ~OOL));
    heap.free(ptr);
  } else {
    dropOwnedAt(heap, slot + 8, slot + 8 + len);
  }
}

function endToUndefined<T>(r: T | typeof CLOSED): T | undefined {
  return r === CLOSED ? undefined : r;
}

/** The receiver closed: fail the waiting senders, and wait out a push in progress (the lock is the barrier). */
function closeSenders(heap: SharedHeap, i32: Int32Array, b: number): void {
  const h = hotOf(i32, b);
  lock(heap, i32, h + M_LOCK);
  for (let n = Atomics.load(i32, h + M_WQ_HEAD); n !== 0; ) {
    const ni = heap.i32For(n + NODE_BYTES);
    const w = n >> 2;
    if (Atomics.load(ni, w + N_STATE) === WAITING) {
      Atomics.sub(i32, h + M_WAITERS, 1);
      Atomics.store(ni, w + N_STATE, NODE_CLOSED);
      Atomics.add(ni, w + N_WAKE, 1);
      wake(ni, w + N_WAKE);
    }
    n = Atomics.load(ni, w + N_NEXT);
  }
  unlock(i32, h + M_LOCK);
}

registerChanKind(KIND.mpsc, {
  sendersGone(heap, i32, b) {
    wakeReceiver(heap, i32, hotOf(i32, b) + M_RX);
  },
  receiversGone(heap, i32, b) {
    closeSenders(heap, i32, b);
    dropQueued(heap, i32, b);
  },
  reaped(heap, i32, b, dead) {
    // Waiter nodes of dead senders: their waits and reservations go back.
    const h = hotOf(i32, b);
    lock(heap, i32, h + M_LOCK);
    const p = new Producer(heap, b);
    for (let n = Atomics.load(i32, h + M_WQ_HEAD); n !== 0; ) {
      const ni = heap.i32For(n + NODE_BYTES);
      const next = Atomics.load(ni, (n >> 2) + N_NEXT);
      if (dead.has(Atomics.load(ni, (n >> 2) + N_TAG))) {
        p.removeLocked(n);
        heap.free(n);
      }
      n = next;
    }
    p.grantLocked();
    unlock(i32, h + M_LOCK);
  },
  release(heap, i32, b) {
    const h = hotOf(i32, b);
    const bytes = segBytes(Atomics.load(i32, b + M_SEG_SLOTS));
    dropValues(heap, i32, b);
    for (let sg = Atomics.load(i32, h + M_HEAD_SEG); sg !== 0; ) {
      const next = Atomics.load(heap.i32For(sg + bytes), (sg >> 2) + S_NEXT);
      heap.free(sg);
      sg = next;
    }
    const spare = Atomics.load(i32, h + M_SPARE);
    if (spare !== 0) heap.free(spare);
    for (let n = Atomics.load(i32, h + M_WQ_HEAD); n !== 0; ) {
      const next = Atomics.load(heap.i32For(n + NODE_BYTES), (n >> 2) + N_NEXT);
      heap.free(n);
      n = next;
    }
  },
});

function reviveSender(heap: SharedHeap, e: number, gen?: number): Sender<unknown> {
  checkKind(heap, e, KIND.mpscSender, 'mpsc.Sender', gen);
  const alive = claimOwner(heap.i32For(e + 32), (e >> 2) + 2, 'mpsc.Sender');
  return new Sender(heap, e, !alive);
}

function reviveReceiver(heap: SharedHeap, off: number, gen?: number): Receiver<unknown> {
  checkKind(heap, off, KIND.mpsc, 'mpsc.Receiver', gen);
  const b = off >> 2;
  const alive = claimOwner(heap.i32For(off + BYTES), b + H_EMBED, 'mpsc.Receiver');
  return new Receiver(heap, b, !alive);
}

registerSharedKind('mpsc.Sender', reviveSender);
registerSharedKind('mpsc.Receiver', reviveReceiver);

function create<T>(cap: number): [Sender<T>, Receiver<T>] {
  const heap = globalHeap();
  const off = allocChan(heap, KIND.mpsc, BYTES);
  const b = off >> 2;
  const slots = cap === 0 ? MAX_SEG_SLOTS : Math.min(MAX_SEG_SLOTS, Math.max(7, cap));
  let seg: number;
  try {
    seg = newSegment(heap, slots, 0);
  } catch (e) {
    heap.free(off);
    throw e;
  }
  const i32 = heap.i32For(off + BYTES);
  // The hot area starts at the first 64-byte boundary after the header (BYTES leaves room for it).
  const hot = (off + HEADER_WORDS * 4 + 16 + 63) & ~63;
  const h = hot >> 2;
  Atomics.store(i32, b + M_CAP, cap);
  Atomics.store(i32, b + M_SEG_SLOTS, slots);
  Atomics.store(i32, b + M_HOT, hot);
  Atomics.store(i32, h + M_TAIL_SEG, seg);
  Atomics.store(i32, h + M_HEAD_SEG, seg);
  initEmbedded(i32, b, 0, RECEIVER);
  const e = newEnd(heap, b, KIND.mpscSender, SENDER);
  return [new Sender<T>(heap, e), new Receiver<T>(heap, b)];
}

/**
 * A bounded channel: at most `capacity` values wait in it; `send` waits for
 * room beyond that (backpressure). Capacity: an integer from 1 to what the
 * shared heap can hold (`RangeError` otherwise).
 */
export function channel<T>(capacity: number): [Sender<T>, Receiver<T>] {
  return create<T>(checkCapacity(capacity, 'mpsc.channel(capacity)', maxCapacity()));
}

/** An unbounded channel: `send` never waits (values wait in the shared heap until received). */
export function unbounded<T>(): [Sender<T>, Receiver<T>] {
  return create<T>(0);
}

