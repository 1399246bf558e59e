/**
 * The private deque: tasks spawned on this worker with primitive arguments
 * that no peer has needed yet. They are plain JS objects — no encode, no slot
 * — and joining one that has not started runs it at once, on the joiner's
 * stack (DESIGN.md §3, after Acar, Charguéraud & Rainey 2013). When a peer is
 * hungry, the older half is published to the shared deque (spawner.ts).
 *
 * [head, length) are live: push and pop at the end (LIFO), publish from the head.
 */
import type { JoinHandle } from '../src/join.js';

export interface LocalTask {
  fn: Function;
  args: unknown[];
  h: JoinHandle<unknown>;
}

export class PrivateDeque {
  private readonly items: (LocalTask | undefined)[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(t: LocalTask): void {
    this.items.push(t);
  }

  /** The newest task (run it next). */
  pop(): LocalTask | undefined {
    if (this.size === 0) return undefined;
    const t = this.items.pop();
    this.compact();
    return t;
  }

  /** The oldest task (to publish). */
  shift(): LocalTask | undefined {
    if (this.size === 0) return undefined;
    const t = this.items[this.head];
    this.items[this.head++] = undefined;
    this.compact();
    return t;
  }

  /** Takes `t` out wherever it is (joined or aborted before it ran). */
  remove(t: LocalTask): void {
    const last = this.items.length - 1;
    if (this.items[last] === t) this.items.pop();
    else {
      const i = this.items.indexOf(t, this.head);
      if (i >= 0) this.items.splice(i, 1);
    }
    this.compact();
  }

  /** Once the shifted-out head has met the end, starts over from index 0. */
  private compact(): void {
    // Not when head is 0 already: setting an array's length is a runtime call, and
    // fork-join empties this deque at nearly every join (its spawn, then its join).
    if (this.head !== 0 && this.head >= this.items.length) {
      this.items.length = 0;
      this.head = 0;
    }
  }
}
