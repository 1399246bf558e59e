/**
 * How a sender wakes the one receiver of a channel (mpsc, oneshot), and how
 * that receiver sleeps — also while it waits on several channels at once in
 * `select`. Three consecutive words of the channel block:
 *
 *   +0 WAITING  1 while the receiver may sleep        receiver (store) → senders (load, exchange)
 *   +1 SEQ      bumped on each wake; the receiver's   senders → receiver (futex word)
 *               own futex word
 *   +2 HUB      Int32 index of the waiting thread's   select (store) → senders (exchange)
 *               select word, 0 = none
 *
 * A sender publishes first, then reads WAITING; the receiver sets WAITING,
 * then looks for a message: with sequentially consistent Atomics one of them
 * sees the other, so a wake-up is never lost. A sender that sees WAITING = 0
 * pays one load and no notify: the steady state of a busy channel.
 */
import { globalHeap, type SharedHeap } from '../shared/heap.js';
import { wake } from '../shared/wake.js';

export const RX_WAITING = 0;
export const RX_SEQ = 1;
export const RX_HUB = 2;
export const RX_WORDS = 3;

/** Wakes the receiver sleeping on the words at `w` (if it sleeps). */
export function wakeReceiver(heap: SharedHeap, i32: Int32Array, w: number): void {
  if (Atomics.load(i32, w + RX_WAITING) === 0 || Atomics.exchange(i32, w + RX_WAITING, 0) === 0) return;
  Atomics.add(i32, w + RX_SEQ, 1);
  wake(i32, w + RX_SEQ);
  const hub = Atomics.exchange(i32, w + RX_HUB, 0);
  if (hub !== 0) bumpHub(heap, hub);
}

/** Bumps and notifies the select word at Int32 index `hub`. */
export function bumpHub(heap: SharedHeap, hub: number): void {
  const h = heap.i32For((hub + 1) * 4);
  Atomics.add(h, hub, 1);
  wake(h, hub);
}

let hubIndex = 0;

/**
 * This thread's select word (Int32 index in the global heap): `select` asks
 * every channel it waits on to bump it, and sleeps on it alone. Allocated on
 * first use and kept for the thread's life (8 bytes).
 */
export function threadHub(): number {
  if (hubIndex === 0) {
    const heap = globalHeap();
    const off = heap.alloc(8);
    Atomics.store(heap.i32For(off + 8), off >> 2, 0);
    hubIndex = off >> 2;
  }
  return hubIndex;
}
