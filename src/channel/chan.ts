/**
 * What every channel shares: a header in its heap block, the ends that hold
 * it (each recorded with its owner thread), and how the channel closes and is
 * freed — by drops, and when a thread that held an end dies.
 *
 * ── Channel header, Int32 word index from the block's first word ──────────
 *                                                          writer → reader
 *   H_KIND      0  kind tag (KIND.*)                        creator → revivers
 *   H_LIST_LOCK 1  tagged lock (lock.ts) over the end list  end create/sweep/reap
 *   H_LIST      2  first end block (linked by E_NEXT)       under H_LIST_LOCK
 *   H_REFS      3  live ends + waiting calls; 0 frees it    every end (add/sub)
 *   H_SENDERS   4  live sending ends (a oneshot end that     every end (add/sub) → closers
 *   H_RECEIVERS 5  live receiving ends  is done leaves its   every end (add/sub) → closers
 *                  count: dropEmbeddedDone)
 *   H_FLAGS     6  TX_CLOSED | RX_CLOSED | CLOSE_WATCHED     closers, closed() waiters (or) → everyone
 *   H_LISTED    7  end blocks in the list                   under H_LIST_LOCK
 *   H_DROPPED   8  dropped blocks still listed (sweep hint) droppers → sweepers
 *   H_CLOSE_SEQ 9  bumped on every close (notified once a    closers → closed() waiters
 *                  closed() waiter has set CLOSE_WATCHED)
 *   H_EMBED     10,11  owner words of ends that live in the  revivers, droppers, reapers
 *                      header (one-of-a-kind ends: an mpsc receiver, a oneshot's two)
 *   HEADER      12 words; each kind lays out its own words after these
 *
 * ── End block (ends that can be cloned), Int32 word index ─────────────────
 *   E_KIND  0  end kind tag                                 creator → revivers
 *   E_CHAN  1  channel block offset                         creator, once
 *   E_OWNER 2  state << 16 | owner thread tag               owner (CAS), reaper (CAS)
 *   E_NEXT  3  next end block of the channel                under H_LIST_LOCK
 *   E_ROLE  4  SENDER / RECEIVER                            creator, once
 *   E_X     5..7  per-kind (a broadcast receiver's position, a watch receiver's seen version)
 *
 * An owner word is LIVE | tag while some thread holds the end: the creator,
 * then whichever thread revives it after a move (the revive CASes the tag, so
 * an end in flight still counts as its sender's). A thread declared dead
 * (heap.declareThreadDead) leaves LIVE words with its tag: `reap` turns them
 * DEAD with one CAS each — so a revive racing it either wins or gets a dead
 * end — and drops what they held. Dead end blocks are unlinked but never
 * freed: a copy of the handle may still be in flight, and it must find DEAD
 * there, not a reused block.
 */
import { ErrorCode, typeError } from '../errors.js';
import type { SharedHeap } from '../shared/heap.js';
import { InvariantError } from '../shared/ring.js';
import { HandleStateError } from '../sync/errors.js';
import { deadTags, lock, selfTag, unlock } from './lock.js';
import { wake } from '../shared/wake.js';

export const H_KIND = 0;
const H_LIST_LOCK = 1;
const H_LIST = 2;
export const H_REFS = 3;
export const H_SENDERS = 4;
export const H_RECEIVERS = 5;
export const H_FLAGS = 6;
const H_LISTED = 7;
const H_DROPPED = 8;
export const H_CLOSE_SEQ = 9;
export const H_EMBED = 10;
export const HEADER_WORDS = 12;

export const TX_CLOSED = 1;
export const RX_CLOSED = 2;
/**
 * Set (for good) by the first `closed()` waiter, before it reads H_CLOSE_SEQ and the flags: only
 * then does a close pay an `Atomics.notify` (most channels close with nobody watching: every
 * oneshot closes twice per request).
 */
export const CLOSE_WATCHED = 4;

export const E_KIND = 0;
const E_CHAN = 1;
const E_OWNER = 2;
const E_NEXT = 3;
const E_ROLE = 4;
export const E_X = 5;
export const END_BYTES = 32;

export const SENDER = 0;
export const RECEIVER = 1;

const LIVE = 1 << 16;
const DEAD = 2 << 16;
const DROPPED = 3 << 16;
const STATE_MASK = 0xff << 16;
const TAG_MASK = 0x3fff;

/** Kind tags of channel blocks and end blocks. */
export const KIND = {
  oneshot: 0x53500101,
  mpsc: 0x53500102,
  broadcast: 0x53500103,
  watch: 0x53500104,
  mpscSender: 0x53500111,
  broadcastSender: 0x53500113,
  broadcastReceiver: 0x53500123,
  watchSender: 0x53500114,
  watchReceiver: 0x53500124,
} as const;

/** What a channel kind does when a side closes and when its block is freed. */
export interface ChanOps {
  /** Every sender is gone: wake the receivers so they see the end. */
  sendersGone(heap: SharedHeap, i32: Int32Array, base: number): void;
  /** Every receiver is gone (or closed): wake the senders so they fail. */
  receiversGone(heap: SharedHeap, i32: Int32Array, base: number): void;
  /** Threads in `dead` died: drop what they held besides ends (an mpsc's waiter nodes). */
  reaped?(heap: SharedHeap, i32: Int32Array, base: number, dead: Set<number>): void;
  /** Frees what the channel owns besides its header block (queued values, rings). */
  release(heap: SharedHeap, i32: Int32Array, base: number): void;
}
/**
 * By the low byte of the channel's kind tag (KIND.oneshot … KIND.watch are 1 … 4): an array
 * index, where a Map lookup was a measurable part of every close and free.
 */
const opsByKind: (ChanOps | undefined)[] = [];
const opsOf = (kind: number): ChanOps | undefined => opsByKind[kind & 0xff];

/** Registers a channel kind's close/free behaviour. */
export function registerChanKind(kind: number, ops: ChanOps): void {
  if (opsByKind[kind & 0xff] !== undefined) throw new InvariantError(`channel kind ${kind.toString(16)} registered twice (or two kinds share a low byte)`);
  opsByKind[kind & 0xff] = ops;
}

/** Allocates a zeroed channel block of `bytes` with kind `kind`. */
export function allocChan(heap: SharedHeap, kind: number, bytes: number): number {
  const off = heap.alloc(bytes);
  heap.zeroFresh(off, bytes);
  Atomics.store(heap.i32For(off + bytes), off >> 2, kind);
  return off;
}

/**
 * Throws unless `off` is a live block of kind `kind` — and, given the
 * generation the handle was sent with, still the same block: a handle whose
 * block was freed and reused for another end of the same kind (a stale copy)
 * must not revive, and above all must not claim, that other end.
 */
export function checkKind(heap: SharedHeap, off: number, kind: number, what: string, generation?: number): void {
  if (!heap.isLive(off) || Atomics.load(heap.i32For(off + 4), off >> 2) !== kind) {
    throw new HandleStateError(`spindle: offset ${off} is not a live ${what} in this heap (freed, or a handle of another kind or heap)`);
  }
  if (generation !== undefined && heap.generation(off) !== generation) {
    throw new HandleStateError(
      `spindle: this ${what} handle is stale: the end it named was dropped and its memory now holds another ${what}; a handle never reaches another end`,
    );
  }
}

/** Sets `flag` in H_FLAGS; true if this call set it. Bumps H_CLOSE_SEQ and wakes closed() waiters, if any watch. */
export function setFlag(i32: Int32Array, base: number, flag: number): boolean {
  const old = Atomics.or(i32, base + H_FLAGS, flag);
  if ((old & flag) !== 0) return false;
  // safety: a waiter sets CLOSE_WATCHED, then reads H_CLOSE_SEQ and the flags, then sleeps on
  // H_CLOSE_SEQ. If our OR came first, its read of the flags sees our flag and it returns: no bump
  // needed. If its OR came first, `old` shows CLOSE_WATCHED and we bump and notify: a waiter that
  // read the old sequence either sees the new one when it goes to sleep or is woken (seq-cst RMWs:
  // one of the two ORs sees the other, so no wake-up is lost).
  if ((old & CLOSE_WATCHED) !== 0) {
    Atomics.add(i32, base + H_CLOSE_SEQ, 1);
    wake(i32, base + H_CLOSE_SEQ);
  }
  return true;
}

/** A closed() waiter announces itself (before it reads H_CLOSE_SEQ and the flags): closes notify from now on. */
export function watchCloses(i32: Int32Array, base: number): void {
  if ((Atomics.load(i32, base + H_FLAGS) & CLOSE_WATCHED) === 0) Atomics.or(i32, base + H_FLAGS, CLOSE_WATCHED);
}

/** Adds a reference to the channel (a new end, or a call about to wait). */
export function ref(i32: Int32Array, base: number): void {
  Atomics.add(i32, base + H_REFS, 1);
}

/** Drops a reference; the last one frees the channel. */
export function unref(heap: SharedHeap, base: number): void {
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  if (Atomics.sub(i32, base + H_REFS, 1) === 1) freeChan(heap, base);
}

function freeChan(heap: SharedHeap, base: number): void {
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  const kind = Atomics.load(i32, base + H_KIND);
  opsOf(kind)!.release(heap, i32, base);
  // safety: refs reached 0, so no end and no call uses the channel any more:
  // the listed blocks are dropped or dead; dead ones stay allocated (a copy may be in flight).
  for (let e = Atomics.load(i32, base + H_LIST); e !== 0; ) {
    const ei = heap.i32For(e + END_BYTES);
    const next = Atomics.load(ei, (e >> 2) + E_NEXT);
    if ((Atomics.load(ei, (e >> 2) + E_OWNER) & STATE_MASK) === DROPPED) {
      Atomics.store(ei, (e >> 2) + E_KIND, 0);
      heap.free(e);
    }
    e = next;
  }
  Atomics.store(i32, base + H_KIND, 0);
  heap.free(base << 2);
}

/** One role's count went down by `n`: close that side when it reaches 0. */
function roleDown(heap: SharedHeap, i32: Int32Array, base: number, role: number, n: number): void {
  const word = role === SENDER ? H_SENDERS : H_RECEIVERS;
  if (Atomics.sub(i32, base + word, n) !== n) return;
  const ops = opsOf(Atomics.load(i32, base + H_KIND))!;
  if (role === SENDER) {
    setFlag(i32, base, TX_CLOSED);
    ops.sendersGone(heap, i32, base);
  } else {
    setFlag(i32, base, RX_CLOSED);
    ops.receiversGone(heap, i32, base);
  }
}

// ───────────────────────── end blocks ─────────────────────────

/** Creates a listed end of `role` on the channel at word `base` (the caller holds a reference). */
export function newEnd(heap: SharedHeap, base: number, kind: number, role: number): number {
  const e = heap.alloc(END_BYTES);
  const ei = heap.i32For(e + END_BYTES);
  const w = e >> 2;
  heap.zeroFresh(e, END_BYTES);
  Atomics.store(ei, w + E_CHAN, base << 2);
  Atomics.store(ei, w + E_ROLE, role);
  Atomics.store(ei, w + E_OWNER, LIVE | selfTag);
  Atomics.store(ei, w + E_KIND, kind);
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  Atomics.add(i32, base + H_REFS, 1);
  Atomics.add(i32, base + (role === SENDER ? H_SENDERS : H_RECEIVERS), 1);
  lock(heap, i32, base + H_LIST_LOCK);
  // safety: one store links the block (a holder that dies here leaves the list whole).
  Atomics.store(ei, w + E_NEXT, Atomics.load(i32, base + H_LIST));
  Atomics.store(i32, base + H_LIST, e);
  Atomics.add(i32, base + H_LISTED, 1);
  unlock(i32, base + H_LIST_LOCK);
  return e;
}

/** The channel block (word index) an end block belongs to. */
export function chanOfEnd(heap: SharedHeap, e: number): number {
  return Atomics.load(heap.i32For(e + END_BYTES), (e >> 2) + E_CHAN) >> 2;
}

/** True when the end whose owner word is at `ownerIdx` is held by this thread (a wait for it here would never end). */
export function heldHere(i32: Int32Array, ownerIdx: number): boolean {
  const o = Atomics.load(i32, ownerIdx);
  return (o & STATE_MASK) === LIVE && (o & TAG_MASK) === selfTag;
}

/**
 * Takes ownership of an end after a move: CAS the owner tag to this thread.
 * False when the end is dead (its previous owner died while it was in flight).
 */
export function claimOwner(i32: Int32Array, ownerIdx: number, what: string): boolean {
  for (;;) {
    const o = Atomics.load(i32, ownerIdx);
    const st = o & STATE_MASK;
    if (st === DEAD) return false;
    if (st !== LIVE) throw new HandleStateError(`spindle: this ${what} was already dropped; a handle to it cannot be revived`);
    if (Atomics.compareExchange(i32, ownerIdx, o, LIVE | selfTag) === o) return true;
  }
}

/** Marks an end dropped (by its owner); false if it was reaped as dead meanwhile. */
function markDropped(i32: Int32Array, ownerIdx: number): boolean {
  // Nearly always the word names this thread (it holds the end): one CAS, no load before it.
  if (Atomics.compareExchange(i32, ownerIdx, LIVE | selfTag, DROPPED) === (LIVE | selfTag)) return true;
  for (;;) {
    const o = Atomics.load(i32, ownerIdx);
    if ((o & STATE_MASK) !== LIVE) return false;
    if (Atomics.compareExchange(i32, ownerIdx, o, DROPPED) === o) return true;
  }
}

/** Drops a listed end: its role count, its reference, and sometimes a sweep of the list. */
export function dropListedEnd(heap: SharedHeap, e: number): void {
  const ei = heap.i32For(e + END_BYTES);
  if (!markDropped(ei, (e >> 2) + E_OWNER)) return;
  const base = Atomics.load(ei, (e >> 2) + E_CHAN) >> 2;
  const role = Atomics.load(ei, (e >> 2) + E_ROLE);
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  roleDown(heap, i32, base, role, 1);
  const dropped = Atomics.add(i32, base + H_DROPPED, 1) + 1;
  if (dropped > 8 && dropped * 2 > Atomics.load(i32, base + H_LISTED)) sweep(heap, i32, base);
  unref(heap, base);
}

/**
 * Creates the embedded end at owner word `H_EMBED + slot` (a channel's one-of-a-kind end), in a
 * block this thread just allocated (allocChan) and has not published: plain stores, as
 * `SharedHeap.zeroFresh`'s, which the store that later publishes the block (a handle's message or
 * task) orders before any other thread's first look.
 */
export function initEmbedded(i32: Int32Array, base: number, slot: number, role: number): void {
  i32[base + H_EMBED + slot] = LIVE | selfTag;
  i32[base + H_REFS] = i32[base + H_REFS]! + 1;
  const count = base + (role === SENDER ? H_SENDERS : H_RECEIVERS);
  i32[count] = i32[count]! + 1;
}

/** Drops an embedded end. */
export function dropEmbedded(heap: SharedHeap, base: number, slot: number, role: number): void {
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  if (!markDropped(i32, base + H_EMBED + slot)) return;
  roleDown(heap, i32, base, role, 1);
  unref(heap, base);
}

/**
 * Drops an embedded end whose side has nothing left to tell: a oneshot's sender once its value
 * is set (`flag` 0), its receiver once it has taken the value (`flag` RX_CLOSED, for the
 * sender's `closed()`). Its role count stays (nothing reads a oneshot's counts: the reaper
 * skips a dropped end, and the peer reads VALUE_SET and the flags), and the kind's close hook
 * does not run (it would wake a receiver the value already woke, or free a value already
 * taken): a mark, a flag and a reference instead of a full close.
 */
export function dropEmbeddedDone(heap: SharedHeap, base: number, slot: number, flag: number): void {
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  if (!markDropped(i32, base + H_EMBED + slot)) return;
  if (flag !== 0) setFlag(i32, base, flag);
  unref(heap, base);
}

/** Unlinks dropped and dead blocks from the list; frees the dropped ones. */
function sweep(heap: SharedHeap, i32: Int32Array, base: number): void {
  lock(heap, i32, base + H_LIST_LOCK);
  let prev = -1; // -1: the list head word
  let removed = 0;
  for (let e = Atomics.load(i32, base + H_LIST); e !== 0; ) {
    const ei = heap.i32For(e + END_BYTES);
    const next = Atomics.load(ei, (e >> 2) + E_NEXT);
    const st = Atomics.load(ei, (e >> 2) + E_OWNER) & STATE_MASK;
    if (st === DROPPED || st === DEAD) {
      // safety: one store unlinks it; nothing else points at a dropped block.
      if (prev < 0) Atomics.store(i32, base + H_LIST, next);
      else Atomics.store(heap.i32For(prev + END_BYTES), (prev >> 2) + E_NEXT, next);
      removed++;
      if (st === DROPPED) {
        Atomics.store(ei, (e >> 2) + E_KIND, 0);
        heap.free(e);
      }
    } else {
      prev = e;
    }
    e = next;
  }
  Atomics.sub(i32, base + H_LISTED, removed);
  Atomics.sub(i32, base + H_DROPPED, removed);
  unlock(i32, base + H_LIST_LOCK);
}

/**
 * Drops every end held by a thread declared dead: their owner words become
 * DEAD, their roles and references go, and their sides close if they were the
 * last. Cheap when nobody died since `seen`; returns the death count to remember.
 */
export function reap(heap: SharedHeap, base: number, seen: number): number {
  const deaths = heap.deathCount();
  if (deaths === seen) return deaths;
  const dead = deadTags(heap);
  const i32 = heap.i32For((base + HEADER_WORDS) * 4);
  let senders = 0;
  let receivers = 0;
  let listed = 0;
  const kill = (ownerI32: Int32Array, idx: number): boolean => {
    const o = Atomics.load(ownerI32, idx);
    return (o & STATE_MASK) === LIVE && dead.has(o & TAG_MASK) && Atomics.compareExchange(ownerI32, idx, o, DEAD) === o;
  };
  // A dead end keeps its reference until we apply it below, so the channel stays allocated.
  lock(heap, i32, base + H_LIST_LOCK);
  for (let e = Atomics.load(i32, base + H_LIST); e !== 0; ) {
    const ei = heap.i32For(e + END_BYTES);
    if (kill(ei, (e >> 2) + E_OWNER)) {
      listed++;
      if (Atomics.load(ei, (e >> 2) + E_ROLE) === SENDER) senders++;
      else receivers++;
    }
    e = Atomics.load(ei, (e >> 2) + E_NEXT);
  }
  unlock(i32, base + H_LIST_LOCK);
  const kind = Atomics.load(i32, base + H_KIND);
  for (let slot = 0; slot < 2; slot++) {
    const role = embeddedRole(kind, slot);
    if (role >= 0 && kill(i32, base + H_EMBED + slot)) {
      if (role === SENDER) senders++;
      else receivers++;
    }
  }
  opsOf(kind)?.reaped?.(heap, i32, base, dead);
  const n = senders + receivers;
  if (n === 0) return deaths;
  Atomics.add(i32, base + H_DROPPED, listed); // the next sweep unlinks them
  if (senders > 0) roleDown(heap, i32, base, SENDER, senders);
  if (receivers > 0) roleDown(heap, i32, base, RECEIVER, receivers);
  if (Atomics.sub(i32, base + H_REFS, n) === n) freeChan(heap, base);
  return deaths;
}

/** The role of embedded end `slot` in a channel of `kind` (-1: unused). */
function embeddedRole(kind: number, slot: number): number {
  if (kind === KIND.oneshot) return slot === 0 ? SENDER : RECEIVER;
  if (kind === KIND.mpsc) return slot === 0 ? RECEIVER : -1;
  return -1;
}

// ───────────────────────── handle state ─────────────────────────

export const H_LIVE = 0;
export const H_MOVED = 1;
export const H_DROPPED_LOCAL = 2;

/** The error for using an end after it was moved or dropped. */
export function handleStateError(state: number, what: string, op: string): HandleStateError {
  return new HandleStateError(
    state === H_MOVED
      ? `spindle: ${what}.${op}: this ${what} was moved (passed to a spawn or sent through a channel, which now owns it); ` +
          (what.endsWith('Sender') && !what.startsWith('oneshot') ? 'call .clone() before passing it if you need to keep using it here' : 'it can be used only where it was moved to')
      : `spindle: ${what}.${op}: this ${what} was already dropped`,
  );
}

/** Validates a channel capacity: an integer ≥ 1, ≤ `max`. */
export function checkCapacity(capacity: unknown, what: string, max: number): number {
  if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1 || capacity > max) {
    throw Object.assign(
      new RangeError(
        `spindle: ${what}: capacity must be an integer from 1 to ${max} (what the shared heap can hold), got ${String(capacity)}` +
          (capacity === 0 ? '. A zero-capacity (rendezvous) channel does not exist here: use capacity 1, or a oneshot' : ''),
      ),
      { code: ErrorCode.INVALID_ARG },
    );
  }
  return capacity;
}

export { typeError };
