// The runtime's two shared queues on their own, with real threads, at tiny
// capacities (tokio's loom trick, by size): src/shared/ring.ts (Vyukov's
// bounded MPMC ring, with each thread's guess of the positions) and
// src/shared/deque.ts (Chase–Lev, with the owner's copy of bottom). Every
// value goes in once and must come out exactly once, whatever the interleaving.
import { describe, expect, it } from 'vitest';
import { DequeOwner, DequeStealer, STEAL_EMPTY } from '../../src/shared/deque.js';
import { dequeWords, ringWords } from '../../src/shared/layout.js';
import { Ring } from '../../src/shared/ring.js';
import type { QueueJob } from '../fixtures/queue-worker.js';
import { STRESS, exited, firstMessage, startWorker } from '../helpers.js';

const shared = (words: number): Int32Array => new Int32Array(new SharedArrayBuffer(words * 4));

/** Each of `seen`'s values was taken exactly once: the first value that was not, and how often, else null. */
function notOnce(seen: Int32Array): string | null {
  for (let v = 0; v < seen.length; v++) if (seen[v] !== 1) return `value ${v} taken ${seen[v]} times`;
  return null;
}

/** Starts the roles on `a` together, awaits them all. */
async function runRoles(a: Int32Array, capacity: number, total: number, roles: Pick<QueueJob, 'role' | 'first' | 'count'>[], credits = capacity): Promise<Int32Array> {
  const seen = shared(total);
  const ctl = shared(3);
  ctl[2] = credits;
  const ws = roles.map((r) => startWorker('queue-worker', { a, capacity, seen, ctl, total, ...r } satisfies QueueJob));
  Atomics.store(ctl, 0, 1);
  Atomics.notify(ctl, 0);
  for (const w of ws) expect(await firstMessage(w, 90_000)).toBe('done');
  await Promise.all(ws.map((w) => exited(w)));
  return seen;
}

/** Producers of [0, total) in equal shares. */
function producers(n: number, total: number, role: QueueJob['role']): Pick<QueueJob, 'role' | 'first' | 'count'>[] {
  const share = total / n;
  return Array.from({ length: n }, (_, p) => ({ role, first: p * share, count: share }));
}
const consumers = (n: number, role: QueueJob['role']): Pick<QueueJob, 'role' | 'first' | 'count'>[] => Array.from({ length: n }, () => ({ role, first: 0, count: 0 }));

/** A ring whose positions start at `start` (cells' sequences set to match), as if that many values had passed. */
function ringAt(capacity: number, start: number): Int32Array {
  const a = shared(ringWords(capacity));
  a[0] = start | 0;
  a[8] = start | 0;
  for (let k = 0; k < capacity; k++) a[16 + 2 * ((start + k) & (capacity - 1))] = (start + k) | 0;
  return a;
}

describe('Ring (MPMC, tiny capacity)', () => {
  const total = STRESS ? 600_000 : 60_000;
  for (const [cap, start, what] of [
    [4, 0, 'from position 0'],
    [2, 0, 'of two cells'],
    [4, 2 ** 31 - 8 * 1024, 'across the int32 wrap of its positions'],
  ] as const) {
    it(`3 producers and 2 consumers, ${cap} cells, ${what}: every value exactly once`, async () => {
      const a = ringAt(cap, start);
      const seen = await runRoles(a, cap, total, [...producers(3, total, 'ring-producer'), ...consumers(2, 'ring-consumer')]);
      expect(notOnce(seen)).toBeNull();
      expect(new Ring(a, 0, cap, 'test').len()).toBe(0);
    }, 120_000);
  }

  it('a thread whose guesses are stale, even by more than half the int32 range, pushes and pops at the true positions', () => {
    const a = ringAt(4, 2 ** 31 - 2); // positions wrap to negative after two values
    const busy = new Ring(a, 0, 4, 'test');
    for (let k = 0; k < 10; k++) {
      busy.push(k);
      expect(busy.pop()).toBe(k);
    }
    // A fresh Ring guesses position 0, about 2^31 away from the truth.
    const late = new Ring(a, 0, 4, 'test');
    expect(late.pop()).toBe(-1);
    late.push(100);
    late.push(101);
    expect(busy.pop()).toBe(100);
    expect(late.pop()).toBe(101);
    expect(late.pop()).toBe(-1);
    busy.push(102);
    expect(late.pop()).toBe(102);
    // Filled to capacity by one thread, drained by the other, then the other way round.
    for (let k = 0; k < 4; k++) busy.push(200 + k);
    for (let k = 0; k < 4; k++) expect(late.pop()).toBe(200 + k);
    for (let k = 0; k < 4; k++) late.push(300 + k);
    for (let k = 0; k < 4; k++) expect(busy.pop()).toBe(300 + k);
    expect(busy.pop()).toBe(-1);
    expect(late.pop()).toBe(-1);
    expect(busy.len()).toBe(0);
  });

  it('a push that finds the ring truly full throws InvariantError instead of dropping the value', () => {
    const ring = new Ring(ringAt(2, 0), 0, 2, 'test');
    ring.push(1);
    ring.push(2);
    expect(() => ring.push(3)).toThrow(/internal invariant broken: the test ring is full \(2 of 2\) while pushing 3/);
    expect(ring.pop()).toBe(1);
    expect(ring.pop()).toBe(2);
    expect(ring.pop()).toBe(-1);
  });
});

describe('Chase–Lev deque (tiny capacity)', () => {
  const total = STRESS ? 400_000 : 40_000;

  for (const cap of [2, 4]) {
    it(`an owner pushing and popping, 2 thieves stealing, deque of ${cap}: every value exactly once`, async () => {
      const a = shared(dequeWords(cap));
      const seen = await runRoles(a, cap, total, [{ role: 'deque-owner', first: 0, count: total }, ...consumers(2, 'deque-thief')]);
      expect(notOnce(seen)).toBeNull();
      expect(new DequeStealer(a, 0, cap).len()).toBe(0);
    }, 120_000);
  }

  it('a replacement owner takes over the deque its predecessor left, thieves still stealing', async () => {
    const cap = 4;
    const a = shared(dequeWords(cap));
    const half = total / 2;
    const seen = shared(total);
    const ctl = shared(3);
    const job = { a, capacity: cap, seen, ctl, total };
    const thieves = [0, 1].map(() => startWorker('queue-worker', { ...job, role: 'deque-thief', first: 0, count: 0 } satisfies QueueJob));
    const first = startWorker('queue-worker', { ...job, role: 'deque-owner', first: 0, count: half } satisfies QueueJob);
    Atomics.store(ctl, 0, 1);
    Atomics.notify(ctl, 0);
    expect(await firstMessage(first, 90_000)).toBe('done');
    await exited(first);
    const second = startWorker('queue-worker', { ...job, role: 'deque-owner', first: half, count: half } satisfies QueueJob);
    expect(await firstMessage(second, 90_000)).toBe('done');
    for (const w of thieves) expect(await firstMessage(w, 90_000)).toBe('done');
    expect(notOnce(seen)).toBeNull();
  }, 120_000);

  it('single thread: LIFO for the owner, FIFO for a thief, full and empty at the edges', () => {
    const a = shared(dequeWords(4));
    const own = new DequeOwner(a, 0, 4);
    const thief = new DequeStealer(a, 0, 4);
    expect(own.pop()).toBe(-1);
    expect(thief.steal()).toBe(STEAL_EMPTY);
    for (let k = 1; k <= 4; k++) expect(own.push(k)).toBe(true);
    expect(own.push(5)).toBe(false);
    expect(own.len()).toBe(4);
    expect(thief.steal()).toBe(1);
    expect(own.pop()).toBe(4);
    expect(own.push(6)).toBe(true);
    expect(thief.len()).toBe(3);
    expect([own.pop(), thief.steal(), own.pop()]).toEqual([6, 2, 3]);
    expect(own.pop()).toBe(-1);
    expect(thief.steal()).toBe(STEAL_EMPTY);
    // A second owner object over the same memory (a replacement worker) sees what the first left.
    expect(own.push(7)).toBe(true);
    expect(own.push(8)).toBe(true);
    const next = new DequeOwner(a, 0, 4);
    expect(next.len()).toBe(2);
    expect(next.pop()).toBe(8);
    expect(thief.steal()).toBe(7);
    expect(next.pop()).toBe(-1);
  });
});
