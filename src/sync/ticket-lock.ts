/**
 * The lock inside Mutex and each SharedMap shard: a FIFO ticket lock that
 * records its holder, so a holder that dies can be detected and its lock
 * recovered (poisoned) by a waiter, and that wakes only the next ticket.
 *
 * Words (Int32 index from the lock's base `b`):                  writer → reader
 *   +0 NEXT    next ticket to hand out (wraps; low 16 bits used) lockers (Atomics.add) → tryLock, unlock
 *   +1 STATE   bit 31 POISON: a holder died holding it           recoverer → lockers
 *              bit 30 SLEEPERS: a later ticket may sleep         waiters, acquirer (CAS) → unlock
 *              bits 16..29 OWNER: holder's thread tag, 0 = none  acquirer (CAS) → recoverer, lockSync
 *              bits 0..15 SERVING: ticket allowed in             unlock, recoverer → waiters
 *   +2..+17    WAKE[t % 16]: bumped when ticket t is served;     unlock, recoverer → waiter of t
 *              the waiter of ticket t sleeps on it (a futex word
 *              per queue position: one handoff wakes one thread)
 *   +18..+33   RING[t % 16] = t << 14 | tag of a waiter that     slow-path waiter → recoverer
 *              took ticket t (lets a dead waiter's ticket be
 *              skipped instead of stalling the queue)
 *
 * Fast path: lock = add(NEXT) + CAS(STATE); unlock = exchange(STATE), plus
 * an add/notify on WAKE when SLEEPERS was set. Handoff is FIFO by ticket. More than 16 waiters share WAKE words and some wake for nothing;
 * that only costs a recheck.
 *
 * Not recoverable: a thread killed between taking its ticket and either
 * acquiring or recording itself in RING (two adjacent statements; only
 * `worker.terminate()` can stop a thread there).
 */
import { threadId } from 'node:worker_threads';
import type { SharedHeap } from '../shared/heap.js';
import { blockChange, waitChange } from './wait.js';

export const TL_WORDS = 34;
const NEXT = 0;
const STATE = 1;
const SLOTS = 16;
const WAKE = 2;
const RING = WAKE + SLOTS;

export const POISON = 1 << 31;
const SLEEPERS = 1 << 30;
const OWNER_SHIFT = 16;
const OWNER_MASK = 0x3fff;
const TICKET_MASK = 0xffff;
/** Spins the next-in-line waiter makes before sleeping (holds are often shorter than a futex round trip). */
const NEXT_IN_LINE_SPINS = 200;

/** The 14-bit tag a thread records as owner (thread ids wrap modulo 16383). */
export function threadTag(id: number): number {
  return (id % OWNER_MASK) + 1;
}
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
  return Atomics.compareExchange(i32, b + STATE, s, held) === s ? held : own(i32, b, s & TICKET_MASK);
}

/**
 * Sets OWNER for ticket `t`, which is being served and which the caller holds,
 * and SLEEPERS if later tickets are out (the unlock that served us cleared it).
 * safety: holding the served ticket, only we may set OWNER; but waiters set
 * SLEEPERS and clearPoison flips POISON meanwhile, so CAS rather than store.
 */
function own(i32: Int32Array, b: number, t: number): number {
  const queued = ((Atomics.load(i32, b + NEXT) - t - 1) & TICKET_MASK) !== 0 ? SLEEPERS : 0;
  for (;;) {
    const s = Atomics.load(i32, b + STATE);
    const held = s | queued | (selfTag << OWNER_SHIFT);
    if (Atomics.compareExchange(i32, b + STATE, s, held) === s) return held;
  }
}

/** Takes a ticket; returns the held STATE if it was served at once, else the ticket to wait for. */
function takeTicket(i32: Int32Array, b: number): { held: number } | { ticket: number } {
  const t = Atomics.add(i32, b + NEXT, 1) & TICKET_MASK;
  const held = (selfTag << OWNER_SHIFT) | t;
  if (Atomics.compareExchange(i32, b + STATE, t, held) === t) return { held };
  // safety: recorded before we first sleep, so a recoverer can tell our ticket is ours.
  Atomics.store(i32, b + RING + (t % SLOTS), (t << 14) | selfTag);
  return { ticket: t };
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
    // serving == t: the previous holder left (OWNER is 0) and the turn is ours.
    if ((s & TICKET_MASK) === t) return { held: own(i32, b, t) };
    if (timedOut && heap.deathCount() > 0 && recover(heap, i32, b, s)) continue;
    if (((s + 1) & TICKET_MASK) === t && spins < NEXT_IN_LINE_SPINS) continue;
    // safety: SLEEPERS must be set in the very STATE we judged, or the unlock
    // that serves us may not bump WAKE; a failed CAS means STATE moved: look again.
    if ((s & SLEEPERS) === 0 && Atomics.compareExchange(i32, b + STATE, s, s | SLEEPERS) !== s) continue;
    return { sleepOn: wake };
  }
}

/** Wakes the waiter of ticket `n` (if any sleeps). */
function wakeTicket(i32: Int32Array, b: number, n: number): void {
  Atomics.add(i32, b + WAKE + (n % SLOTS), 1);
  Atomics.notify(i32, b + WAKE + (n % SLOTS));
}

/**
 * If the ticket being served belongs to a dead thread, move past it: a dead
 * holder's lock is released POISONed; a dead waiter's ticket is just skipped.
 */
function recover(heap: SharedHeap, i32: Int32Array, b: number, s: number): boolean {
  const dead = new Set(heap.deadThreads().map(threadTag));
  const serving = s & TICKET_MASK;
  const owner = ownerOf(s);
  let next: number;
  if (owner !== 0) {
    if (!dead.has(owner)) return false;
    next = POISON | ((serving + 1) & TICKET_MASK);
  } else {
    const e = Atomics.load(i32, b + RING + (serving % SLOTS));
    if (e >>> 14 !== serving || !dead.has(e & OWNER_MASK)) return false;
    next = (s & POISON) | ((serving + 1) & TICKET_MASK);
  }
  // safety: the CAS from the exact state we judged is the single point where
  // the dead thread's turn ends; a racing recoverer or a change fails it.
  if (Atomics.compareExchange(i32, b + STATE, s, next) !== s) return false;
  wakeTicket(i32, b, next & TICKET_MASK);
  return true;
}

/** Acquires, blocking the thread while it waits (callers check the thread may block). */
export function tlLockBlocking(heap: SharedHeap, i32: Int32Array, b: number): number {
  const first = takeTicket(i32, b);
  if ('held' in first) return first.held;
  const t = first.ticket;
  let timedOut = false;
  for (;;) {
    const r = step(heap, i32, b, t, timedOut);
    if ('held' in r) return r.held;
    timedOut = blockChange(i32, b + WAKE + (t % SLOTS), r.sleepOn) === 'timed-out';
  }
}

/** Acquires without blocking the thread; resolves with the held STATE. */
export function tlLockAsync(heap: SharedHeap, i32: Int32Array, b: number): number | Promise<number> {
  const first = takeTicket(i32, b);
  if ('held' in first) return first.held;
  const t = first.ticket;
  return (async () => {
    let timedOut = false;
    for (;;) {
      const r = step(heap, i32, b, t, timedOut);
      if ('held' in r) return r.held;
      const w = waitChange(i32, b + WAKE + (t % SLOTS), r.sleepOn);
      timedOut = w !== undefined && (await w) === 'timed-out';
    }
  })();
}

/** Releases a lock acquired with STATE `held`; FIFO: lets in the next ticket. */
export function tlUnlock(i32: Int32Array, b: number, held: number): void {
  const n = (held + 1) & TICKET_MASK;
  // Exchange, not store: waiters set SLEEPERS while we hold the lock, and we
  // must see it. POISON is ours to carry: a guard only exists on an unpoisoned
  // lock, and the PoisonError path releases with the poison it found.
  const old = Atomics.exchange(i32, b + STATE, (held & POISON) | n);
  if ((old & SLEEPERS) !== 0) wakeTicket(i32, b, n);
}

/** Clears the POISON bit (the caller has repaired what the dead holder left). */
export function tlClearPoison(i32: Int32Array, b: number): void {
  for (;;) {
    const s = Atomics.load(i32, b + STATE);
    if ((s & POISON) === 0 || Atomics.compareExchange(i32, b + STATE, s, s & ~POISON) === s) return;
  }
}
