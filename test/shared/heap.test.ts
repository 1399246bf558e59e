import { describe, it, expect } from 'vitest';
import { SharedHeap, globalHeap, setGlobalHeap } from '../../src/shared/heap.js';
import { startWorker, firstMessage, exited, within, STRESS } from '../helpers.js';

describe('SharedHeap', () => {
  it('hands out 8-aligned, non-zero, disjoint blocks of at least the asked size', () => {
    const heap = new SharedHeap({ initialBytes: 4096 });
    const seen: Array<[number, number]> = [];
    for (const n of [0, 1, 7, 8, 9, 16, 17, 100, 1000, 5000, 70_000]) {
      const p = heap.alloc(n);
      expect(p).toBeGreaterThan(0);
      expect(p % 8).toBe(0);
      expect(heap.usableSize(p)).toBeGreaterThanOrEqual(n);
      heap.u8.fill(0xab, p, p + heap.usableSize(p));
      seen.push([p, p + heap.usableSize(p)]);
    }
    seen.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < seen.length; i++) expect(seen[i]![0]).toBeGreaterThanOrEqual(seen[i - 1]![1]);
    expect(heap.stats().blocks).toBe(11);
  });

  it('reuses freed blocks and returns stats to baseline after 1,000,000 alloc/free cycles', () => {
    const heap = new SharedHeap();
    const base = heap.stats();
    const sizes = [8, 24, 40, 100, 300, 1000];
    for (let i = 0; i < 1_000_000; i++) heap.free(heap.alloc(sizes[i % sizes.length]!));
    expect(heap.stats()).toEqual(base);
  });

  it('throws a clear Error on double free and on a bad offset, and changes nothing', () => {
    const heap = new SharedHeap();
    const p = heap.alloc(32);
    const q = heap.alloc(32);
    heap.free(p);
    const before = heap.stats();
    expect(() => heap.free(p)).toThrow(/double free/);
    expect(() => heap.free(q + 8)).toThrow(/not the start of a block|not an offset/);
    expect(() => heap.free(3)).toThrow(/not an offset returned by alloc/);
    expect(() => heap.free(1 << 29)).toThrow(/not an offset returned by alloc/);
    expect(heap.stats()).toEqual(before);
    // The free list is intact: the next two allocations of that class are p, then fresh memory.
    expect(heap.alloc(32)).toBe(p);
    expect(heap.alloc(32)).not.toBe(q);
  });

  it('grows on demand and fails past maxBytes with a RangeError that says how to raise it', () => {
    const heap = new SharedHeap({ initialBytes: 1024, maxBytes: 64 * 1024 });
    const p = heap.alloc(10_000);
    expect(heap.stats().reserved).toBeGreaterThan(10_000);
    expect(() => heap.alloc(100_000)).toThrow(RangeError);
    expect(() => heap.alloc(100_000)).toThrow(/maxBytes 65536.*Raise the limit with new SharedHeap\(\{ maxBytes \}\)/);
    // Still fully usable afterwards.
    heap.free(p);
    expect(heap.alloc(10_000)).toBe(p);
  });

  it('is shared with worker threads: growth is visible and concurrent alloc/free never hands a block out twice', async () => {
    const heap = new SharedHeap({ initialBytes: 4096 });
    const base = heap.stats();
    const go = new Int32Array(new SharedArrayBuffer(4));
    const rounds = STRESS ? 500_000 : 50_000;
    const workers = [1, 2, 3].map(() => startWorker('heap-worker', { buffer: heap.buffer, op: 'stress', rounds, go }));
    const results = workers.map((w) => firstMessage<{ corrupt: number }>(w));
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    // The main thread allocates concurrently too.
    for (let i = 0; i < rounds / 5; i++) heap.free(heap.alloc(16 + (i % 64)));
    for (const r of await Promise.all(results)) expect(r.corrupt).toBe(0);
    await Promise.all(workers.map((w) => exited(w)));
    const after = heap.stats();
    expect(after.inUse).toBe(base.inUse);
    expect(after.blocks).toBe(base.blocks);

    const big = heap.alloc(3 * heap.buffer.byteLength);
    const w = startWorker('heap-worker', { buffer: heap.buffer, op: 'growth', rounds: 0, go });
    const seen = await firstMessage<{ byteLength: number; u8: number; i32: number }>(w);
    expect(seen.byteLength).toBe(heap.buffer.byteLength);
    expect(seen.u8).toBe(heap.buffer.byteLength);
    expect(seen.i32).toBe(heap.buffer.byteLength / 4);
    heap.free(big);
    await exited(w);
  });

  // A thread killed inside the allocator lock (terminated, or out of memory, mid-alloc) must not
  // hang every other thread's next allocation: the next waiter takes the lock over.
  for (const how of ['seen gone in /proc', 'declared dead (no /proc)'] as const) {
    it(`a thread that dies holding the allocator lock does not block the others: ${how}`, async () => {
      const heap = new SharedHeap({ initialBytes: 1 << 20 });
      const dying = startWorker('heap-worker', { buffer: heap.buffer, op: 'die-locked', rounds: 0 });
      const id = dying.threadId;
      expect(await within(exited(dying), 10_000, 'the worker to die at the fault point')).toBe(70);
      if (how !== 'seen gone in /proc') heap.declareThreadDead(id);
      // The dead thread's tag is still in the lock word: the fault point was inside.
      expect(Atomics.load(heap.i32, 3) & 0x3fff).not.toBe(0);
      const next = startWorker('heap-worker', { buffer: heap.buffer, op: 'alloc-big', rounds: 0, probe: how === 'seen gone in /proc' });
      expect(await within(firstMessage(next), 10_000, 'an allocation after the death')).toBe('allocated');
      await exited(next);
      // Taken over and released: free again, and the lists still work on this thread too.
      expect(Atomics.load(heap.i32, 3)).toBe(0);
      heap.free(heap.alloc(1 << 16));
    });
  }

  it('fromBuffer rejects buffers that are not a heap', () => {
    expect(() => SharedHeap.fromBuffer(new SharedArrayBuffer(1024))).toThrow(TypeError);
    const g = new (SharedArrayBuffer as unknown as new (n: number, o: object) => SharedArrayBuffer)(4096, { maxByteLength: 8192 });
    expect(() => SharedHeap.fromBuffer(g)).toThrow(/not a spindle SharedHeap/);
    const heap = new SharedHeap();
    expect(SharedHeap.fromBuffer(heap.buffer).id).toBe(heap.id);
  });

  it('globalHeap() is created lazily once in the main thread; setGlobalHeap refuses a second, different heap', () => {
    const g = globalHeap();
    expect(globalHeap()).toBe(g);
    expect(() => setGlobalHeap(new SharedHeap())).toThrow(/already uses another global heap/);
    setGlobalHeap(SharedHeap.fromBuffer(g.buffer)); // the same heap attached again is fine
  });
});
