/**
 * The lock inside Mutex and each SharedMap shard: a FIFO ticket lock that
 * records its holder, so a holder that dies can be detected and its lock
 * recovered (poisoned) by a waiter, that wakes only the next ticket, and that
 * lets a waiter give up its place (an AbortSignal) without stalling the queue.
 * Layout: TICKET_LOCK below.
 *
 * Fast path: lock = add(NEXT) + CAS(STATE); unlock = exchange(STATE), plus
 * the slow path (abandoned turns, then an add/notify on WAKE) when SLEEPERS
 * was set. Handoff is FIFO by ticket. More than 16 waiters share WAKE words
 * and some wake for nothing; that only costs a recheck.
 *
 * Giving up a place (abandon). A ticket cannot leave the middle of the queue,
 * so its turn must be passed on when it comes. The waiter records its ticket
 * in one of the ABANDONED words; whoever makes that ticket the one being
 * served (an unlock, a recoverer) sees the record, takes the turn on the
 * waiter's behalf and releases it at once — to the next ticket, which may be
 * abandoned too. If the turn had already come when the waiter gave up, the
 * waiter passes it itself. Neither needs the abandoning thread afterwards
 * (it may block or die). With all ABANDONED words taken, the waiter instead
 * keeps waiting in the background and releases the turn when it gets it:
 * that one depends on its thread's event loop (docs/shared-state.md).
 *
 * A waiter that has slept has set SLEEPERS, and every later holder sets it
 * while tickets are queued behind it, so an unlock that finds SLEEPERS clear
 * has no abandoned ticket to pass and takes the fast path.
 *
 * Not recoverable: a thread killed between taking its ticket and either
 * acquiring or recording itself in RING (two adjacent statements; only
 * `worker.terminate()` can stop a thread there).
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { ErrorCode, SpindleError } from '../errors.js';
import { threadProbeAvailable, threadTag, type SharedHeap } from '../shared/heap.js';
import { wordTable } from '../shared/word-table.js';
import { blockChange, waitChange, waitOrAbort } from './wait.js';
import { wake } from '../shared/wake.js';

const NEXT = 0;
const STATE = 1;
const SLOTS = 16;
const WAKE = 2;
const RING = WAKE + SLOTS;
const ABANDONED = RING + SLOTS;
/** Abandoned tickets the lock can record at once (the rest wait in their own thread, see above). */
const ABANDON_SLOTS = 8;
export const TL_WORDS = ABANDONED + ABANDON_SLOTS;

export const POISON = 1 << 31;
const SLEEPERS = 1 << 30;
const OWNER_SHIFT = 16;
const OWNER_MASK = 0x3fff;
const TICKET_MASK = 0xffff;
/** An ABANDONED word holding ticket t is `RECORDED | t`. */
const RECORDED = 1 << 16;
/** Spins the next-in-line waiter makes before sleeping (holds are often shorter than a futex round trip). */
const NEXT_IN_LINE_SPINS = 200;

export const TICKET_LOCK = wordTable({
  title: 'Ticket lock',
  base: 'Inside a Mutex block and each SharedMap shard (`src/sync/ticket-lock.ts`), from the lock\'s first word',
  unit: 'word',
  size: TL_WORDS,
  rows: [
    { name: 'NEXT', at: NEXT, words: 1, meaning: 'next ticket to hand out (wraps; low 16 bits used)', access: 'lockers (add) → tryLock, unlock' },
    {
      name: 'STATE',
      at: STATE,
      words: 1,
      meaning:
        'bit 31 POISON: a holder died holding it; bit 30 SLEEPERS: a later ticket may sleep; bits 16–29 OWNER: holder\'s thread tag (0 = none); bits 0–15 SERVING: the ticket allowed in',
      access: 'acquirer (CAS), unlock (exchange), recoverer (CAS) → everyone',
    },
    { name: 'WAKE', at: WAKE, words: SLOTS, meaning: 'WAKE[t % 16] is bumped when ticket t is served; its waiter sleeps on it (one futex word per queue position)', access: 'unlock, recoverer → waiter of t' },
    { name: 'RING', at: RING, words: SLOTS, meaning: 'RING[t % 16] = t << 14 | tag of a waiter that took ticket t (a dead waiter\'s turn is skipped)', access: 'slow-path waiter → recoverer' },
    { name: 'ABANDONED', at: ABANDONED, words: ABANDON_SLOTS, meaning: `tickets given up by their waiters: 1 << 16 | t (0 = free); ${ABANDON_SLOTS} at once`, access: 'abandoning waiter → whoever serves t (clears it)' },
  ],
});

export { threadTag };
/** This thread's tag. */
export const selfTag = threadTag(threadId);

/** Owner tag recorded in a STATE value (0 = unlocked). */
export function ownerOf(state: number): number {
  return (state >>> OWNER_SHIFT) & OWNER_MASK;
}

/** Current STATE word. */
export function tlState(i32: Int32Array, b: number): number {
  return Atomics.load(i32, b + STATE);
}

/** Takes the lock if it is free and nobody queues; returns the held STATE, or undefined. */
export function tlTryLock(i32: Int32Array, b: number): number | undefined {
  const s = Atomics.load(i32, b + STATE);
  if (ownerOf(s) !== 0) return undefined;
  // Free and nobody queued iff the next ticket is the one being served: claim it.
  // (NEXT only uses its low 16 bits, so compare those; the CAS needs the full word.)
  const n = Atomics.load(i32, b + NEXT);
  if (((n ^ s) & TICKET_MASK) !== 0 || Atomics.compareExchange(i32, b + NEXT, n, n + 1) !== n) return undefined;
  const held = s | (selfTag << OWNER_SHIFT);
  return Atomics.compareExchange(i32, b + STATE, s, held) === s ? held : own(i32, b, s & TICKET_MASK)!;
}

/** SLEEPERS if tickets after `t` are out, else 0 (the unlock that served `t` cleared it). */
function queuedAfter(i32: Int32Array, b: number, t: number): number {
  return ((Atomics.load(i32, b + NEXT) - t - 1) & TICKET_MASK) !== 0 ? SLEEPERS : 0;
}

/**
 * Takes the turn of ticket `t` while it is being served and nobody has it:
 * for ourselves (we hold ticket t), or on behalf of a waiter that gave up or
 * died. Returns the held STATE, or undefined when the turn is not (or no
 * longer) free. safety: waiters set SLEEPERS and clearPoison flips POISON
 * meanwhile, so CAS from the exact state seen rather than store.
 */
function own(i32: Int32Array, b: number, t: number): number | undefined {
  const queued = queuedAfter(i32, b, t);
  for (;;) {
    const s = Atomics.load(i32, b + STATE);
    if ((s & TICKET_MASK) !== t || ownerOf(s) !== 0) return undefined;
    const held = s | queued | (selfTag << OWNER_SHIFT);
    if (Atomics.compareExchange(i32, b + STATE, s, held) === s) return held;
  }
}

/**
 * Takes a ticket. Returns the held STATE if it was served at once — always
 * positive then (OWNER ≥ 1, no POISON) — else `-1 - ticket` (negative): the
 * ticket to wait for. (A number, not an object: this is every lock's path.)
 */
function takeTicket(i32: Int32Array, b: number): number {
  const t = Atomics.add(i32, b + NEXT, 1) & TICKET_MASK;
  const held = (selfTag << OWNER_SHIFT) | t;
  if (Atomics.compareExchange(i32, b + STATE, t, held) === t) return held;
  // safety: recorded before we first sleep, so a recoverer can tell our ticket is ours.
  Atomics.store(i32, b + RING + (t % SLOTS), (t << 14) | selfTag);
  return -1 - t;
}

/**
 * One look at the lock for ticket `t`: acquires it (`held`: the STATE we
 * installed) or returns the WAKE value to sleep on. `timedOut`: the last sleep
 * ran out, so look for a dead thread blocking the queue.
 */
function step(heap: SharedHeap, i32: Int32Array, b: number, t: number, timedOut: boolean): { held: number } | { sleepOn: number } {
  for (let spins = 0; ; spins++) {
    // safety: read WAKE before STATE. An unlock that serves us after our STATE
    // read bumps WAKE after its STATE write, so our sleep on this value fails.
    const wake = Atomics.load(i32, b + WAKE + (t % SLOTS));
    const s = Atomics.load(i32, b + STATE);
    // serving == t and nobody in: the previous holder left and the turn is ours.
    if ((s & TICKET_MASK) === t && ownerOf(s) === 0) {
      const held = own(i32, b, t);
      if (held !== undefined) return { held };
      continue;
    }
    if (timedOut && recover(heap, i32, b, s)) continue;
    // Next in line spins a little, unless the holder is this thread (it cannot unlock while we spin).
    if (((s + 1) & TICKET_MASK) === t && spins < NEXT_IN_LINE_SPINS && ownerOf(s) !== selfTag) continue;
    // safety: SLEEPERS must be set in the very STATE we judged, or the unlock
    // that serves us may not bump WAKE; a failed CAS means STATE moved: look again.
    if ((s & SLEEPERS) === 0 && Atomics.compareExchange(i32, b + STATE, s, s | SLEEPERS) !== s) continue;
    return { sleepOn: wake };
  }
}

/** Wakes the waiter of ticket `n` (if any sleeps). */
function wakeTicket(i32: Int32Array, b: number, n: number): void {
  Atomics.add(i32, b + WAKE + (n % SLOTS), 1);
  wake(i32, b + WAKE + (n % SLOTS));
}

/** The ABANDONED word recording ticket `t`, or -1. */
function abandonedAt(i32: Int32Array, b: number, t: number): number {
  for (let k = 0; k < ABANDON_SLOTS; k++) if (Atomics.load(i32, b + ABANDONED + k) === (RECORDED | t)) return b + ABANDONED + k;
  return -1;
}

/**
 * Ticket `n` has just become the one served (by us), with no owner: hand the
 * turn to its waiter — or, if that waiter gave up, take the turn on its behalf
 * and release it to the next ticket, and so on.
 */
function serve(i32: Int32Array, b: number, n: number): void {
  for (;;) {
    const at = abandonedAt(i32, b, n);
    if (at < 0) {
      wakeTicket(i32, b, n);
      return;
    }
    const held = own(i32, b, n);
    if (held === undefined) return; // someone else took the turn: they pass it on
    // We hold n's turn: the record is ours to clear (before n can come round again).
    Atomics.store(i32, at, 0);
    n = (n + 1) & TICKET_MASK;
    const old = Atomics.exchange(i32, b + STATE, (held & POISON) | n);
    // A waiter sets SLEEPERS before it sleeps, and an abandoned one has slept:
    // SLEEPERS clear means nobody waits for n (an unlock's fast path, as in tlUnlock).
    if ((old & SLEEPERS) === 0) return;
  }
}

/**
 * If the ticket being served belongs to a dead thread, move past it: a dead
 * holder's lock is released POISONed; a dead waiter's ticket is just skipped.
 */
function recover(heap: SharedHeap, i32: Int32Array, b: number, s: number): boolean {
  const serving = s & TICKET_MASK;
  const owner = ownerOf(s);
  if (owner !== 0) {
    if (owner === selfTag || !heap.isTagDead(owner)) return false;
    const next = (serving + 1) & TICKET_MASK;
    // safety: the CAS from the exact state we judged is the single point where
    // the dead thread's turn ends; a racing recoverer or a change fails it.
    if (Atomics.compareExchange(i32, b + STATE, s, POISON | next) !== s) return false;
    serve(i32, b, next);
    return true;
  }
  // Nobody in, and the served ticket's waiter does not come: dead, or gave up (a lost race).
  const e = Atomics.load(i32, b + RING + (serving % SLOTS));
  const dead = e >>> 14 === serving && (e & OWNER_MASK) !== selfTag && heap.isTagDead(e & OWNER_MASK);
  if (!dead && abandonedAt(i32, b, serving) < 0) return false;
  const held = own(i32, b, serving);
  if (held === undefined) return false;
  const at = abandonedAt(i32, b, serving);
  if (at >= 0) Atomics.store(i32, at, 0);
  tlUnlock(i32, b, held); // POISON, if any, stays: the dead waiter never held the lock
  return true;
}

/**
 * Gives up ticket `t` (its waiter stops waiting): records it for whoever
 * serves it, or passes the turn at once if it has come. False when every
 * ABANDONED word is taken (the caller must then pass the turn itself when it comes).
 */
function abandon(i32: Int32Array, b: number, t: number): boolean {
  let at = -1;
  for (let k = 0; k < ABANDON_SLOTS && at < 0; k++) {
    if (Atomics.compareExchange(i32, b + ABANDONED + k, 0, RECORDED | t) === 0) at = b + ABANDONED + k;
  }
  if (at < 0) return false;
  // safety: recorded first, looked second; an unlock serves first, looks second
  // (serve). So at least one of us sees the other, and own() lets one pass the turn.
  const held = own(i32, b, t);
  if (held !== undefined) {
    Atomics.store(i32, at, 0);
    tlUnlock(i32, b, held);
  }
  return true;
}

/** Ticket `t` was given up but could not be recorded: wait for its turn here and pass it on. */
async function passWhenServed(heap: SharedHeap, i32: Int32Array, b: number, t: number): Promise<void> {
  let timedOut = false;
  for (;;) {
    // A record may have freed up meanwhile: then the lock passes it without us.
    if (abandon(i32, b, t)) return;
    const r = step(heap, i32, b, t, timedOut);
    if ('held' in r) {
      tlUnlock(i32, b, r.held);
      return;
    }
    const w = waitChange(i32, b + WAKE + (t % SLOTS), r.sleepOn);
    timedOut = w !== undefined && (await w) === 'timed-out';
  }
}

/** Leaves the queue: ticket `t`'s turn will pass to the next one. */
function leave(heap: SharedHeap, i32: Int32Array, b: number, t: number): void {
  if (!abandon(i32, b, t)) void passWhenServed(heap, i32, b, t);
}

/** How a blocked main thread gives up where it cannot tell a dead holder (no /proc). */
let mainWaitLimitMs = 10_000;
/** @internal Sets that limit (tests). */
export function setMainWaitLimit(ms: number): void {
  mainWaitLimitMs = ms;
}
/** The current limit, for messages. */
export function mainWaitLimit(): number {
  return mainWaitLimitMs;
}

/**
 * Acquires, blocking the thread while it waits (callers check the thread may
 * block). A holder that died is noticed within a poll period (see wait.ts):
 * declared dead by the runtime, or gone from /proc — the latter needs no
 * event loop, which is what lets the main thread block here safely. Where
 * /proc is missing, the main thread gives up after `mainWaitLimit()` ms: it
 * leaves the queue and returns undefined (`mayGiveUp`), or throws.
 */
export function tlLockBlocking(heap: SharedHeap, i32: Int32Array, b: number): number;
export function tlLockBlocking(heap: SharedHeap, i32: Int32Array, b: number, mayGiveUp: true): number | undefined;
export function tlLockBlocking(heap: SharedHeap, i32: Int32Array, b: number, mayGiveUp = false): number | undefined {
  const first = takeTicket(i32, b);
  if (first > 0) return first;
  const t = -1 - first;
  const deadline = isMainThread && !threadProbeAvailable() ? Date.now() + mainWaitLimitMs : Infinity;
  let timedOut = false;
  for (;;) {
    const r = step(heap, i32, b, t, timedOut);
    if ('held' in r) return r.held;
    if (Date.now() > deadline) {
      leave(heap, i32, b, t);
      if (mayGiveUp) return undefined;
      throw new SpindleError(ErrorCode.LOCK_TIMEOUT, `spindle: gave up waiting for a lock after ${mainWaitLimitMs} ms`);
    }
    timedOut = blockChange(i32, b + WAKE + (t % SLOTS), r.sleepOn) === 'timed-out';
  }
}

/**
 * Acquires without blocking the thread; resolves with the held STATE. With a
 * `signal`, rejects with `aborted()` when it fires, leaving the queue (the
 * turn passes to the next ticket; a turn that arrives with the abort is
 * released again).
 */
export function tlLockAsync(
  heap: SharedHeap,
  i32: Int32Array,
  b: number,
  signal?: AbortSignal,
  aborted?: () => Error,
): number | Promise<number> {
  // takeTicket, inlined by hand: this is every async lock's path.
  const t = Atomics.add(i32, b + NEXT, 1) & TICKET_MASK;
  const held = (selfTag << OWNER_SHIFT) | t;
  if (Atomics.compareExchange(i32, b + STATE, t, held) === t) return held;
  // safety: recorded before we first sleep, so a recoverer can tell our ticket is ours.
  Atomics.store(i32, b + RING + (t % SLOTS), (t << 14) | selfTag);
  return waitTurn(heap, i32, b, t, signal, aborted);
}

/** The slow path of tlLockAsync: ticket `t` waits for its turn. */
async function waitTurn(heap: SharedHeap, i32: Int32Array, b: number, t: number, signal?: AbortSignal, aborted?: () => Error): Promise<number> {
  let timedOut = false;
  for (;;) {
    const r = step(heap, i32, b, t, timedOut);
    if ('held' in r) {
      if (signal?.aborted) {
        tlUnlock(i32, b, r.held);
        throw aborted!();
      }
      return r.held;
    }
    const w = waitChange(i32, b + WAKE + (t % SLOTS), r.sleepOn);
    if (w === undefined) {
      timedOut = false;
      continue;
    }
    const how = signal === undefined ? await w : await waitOrAbort(w, signal);
    if (how === 'aborted') {
      leave(heap, i32, b, t);
      throw aborted!();
    }
    timedOut = how === 'timed-out';
  }
}

/** Releases a lock acquired with STATE `held`; FIFO: lets in the next ticket (passing over abandoned ones). */
export function tlUnlock(i32: Int32Array, b: number, held: number): void {
  const n = (held + 1) & TICKET_MASK;
  // Exchange, not store: waiters set SLEEPERS while we hold the lock, and we
  // must see it. POISON is ours to carry: a guard only exists on an unpoisoned
  // lock, and the PoisonError path releases with the poison it found.
  const old = Atomics.exchange(i32, b + STATE, (held & POISON) | n);
  if ((old & SLEEPERS) !== 0) serve(i32, b, n);
}

/** Clears the POISON bit (the caller has repaired what the dead holder left). */
export function tlClearPoison(i32: Int32Array, b: number): void {
  for (;;) {
    const s = Atomics.load(i32, b + STATE);
    if ((s & POISON) === 0 || Atomics.compareExchange(i32, b + STATE, s, s & ~POISON) === s) return;
  }
}
