/**
 * Hand-off: moving a slot index between queues without ever losing it.
 *
 * A worker can be terminated at any function entry or loop back-edge (that is
 * where V8 delivers `Worker.terminate()` and where `process.exit` in a task
 * stops the thread). So an index this worker has taken out of a queue, and
 * that is in no other queue and not yet running, is recorded in its `W_HAND`
 * word; if the worker dies, the main thread puts it back where the slot's
 * state says it belongs (recovery.ts): FREE or RESERVED → the free ring,
 * QUEUED → the injector, an outcome → its owner's completion ring, TAKEN →
 * released to the free ring. Putting back an index that had already reached
 * its next queue only makes a duplicate, which the slot transitions drop.
 *
 * This class is the only writer of `W_HAND` and `W_PENDING`. Each method that
 * takes an index out of a queue records it *in the same function body*, with no
 * call or loop back-edge between the take and the record; so there is no
 * instant at which the index is in no queue and not in hand.
 */
import type { DequeOwner, DequeStealer } from '../src/shared/deque.js';
import { STEAL_RETRY } from '../src/shared/deque.js';
import { W_HAND, W_PENDING } from '../src/shared/layout.js';
import type { Ring } from '../src/shared/ring.js';
import type { Slots } from '../src/shared/slot.js';

export class Hand {
  private readonly hand: number;
  private readonly pending: number;

  constructor(
    private readonly ctl: Int32Array,
    workerBase: number,
  ) {
    this.hand = workerBase + W_HAND;
    this.pending = workerBase + W_PENDING;
  }

  /** Pops a ring into hand. -1 when empty. */
  popRing(ring: Ring): number {
    const i = ring.pop();
    if (i !== -1) Atomics.store(this.ctl, this.hand, i);
    return i;
  }

  /** Pops our own deque into hand. -1 when empty. */
  popOwn(dq: DequeOwner): number {
    const i = dq.pop();
    if (i !== -1) Atomics.store(this.ctl, this.hand, i);
    return i;
  }

  /** Steals from a deque into hand: an index, STEAL_EMPTY or STEAL_RETRY. */
  steal(dq: DequeStealer): number {
    const i = dq.steal();
    if (i >= 0) Atomics.store(this.ctl, this.hand, i);
    return i;
  }

  /**
   * Reserves a free slot (slot.ts: FREE → RESERVED) and holds it. -1 when no
   * slot is free. Stale duplicates in the free ring are dropped on the way.
   */
  reserve(free: Ring, slots: Slots): number {
    for (;;) {
      const i = free.pop();
      if (i === -1) return -1;
      Atomics.store(this.ctl, this.hand, i);
      if (slots.reserve(i)) return i;
      Atomics.store(this.ctl, this.hand, -1); // a stale duplicate: someone else holds it
    }
  }

  /** Records `i` in hand (a running task about to finish: finish → deliver is covered). */
  hold(i: number): void {
    Atomics.store(this.ctl, this.hand, i);
  }

  /** The index in hand reached its next queue (or started running). */
  letGo(): void {
    Atomics.store(this.ctl, this.hand, -1);
  }

  /** Pushes the index in hand to `ring` and lets go. */
  pushRing(ring: Ring, i: number): void {
    ring.push(i);
    Atomics.store(this.ctl, this.hand, -1);
  }

  /** Moves the index in hand to W_PENDING: a QUEUED task held while its module loads. */
  toPending(i: number): void {
    Atomics.store(this.ctl, this.pending, i);
    Atomics.store(this.ctl, this.hand, -1);
  }

  pendingIndex(): number {
    return Atomics.load(this.ctl, this.pending);
  }

  /** The pending task was claimed (or dropped). */
  clearPending(): void {
    Atomics.store(this.ctl, this.pending, -1);
  }

  /** True if a steal lost a race (the victim may have more). */
  static retry(r: number): boolean {
    return r === STEAL_RETRY;
  }
}
