import { describe, it, expect } from 'vitest';
import { SHARED, reviverFor } from '../../src/shared/handle.js';
import { Arc, HandleStateError, HeapMismatchError, Mutex, SharedHeap, Weak, globalHeap } from '../../src/sync/index.js';
import { firstMessage, exited, send, syncJob } from '../helpers.js';

describe('Arc / Weak', () => {
  it('counts across threads reach zero and free the block and what it owns', async () => {
    const heap = globalHeap();
    const base = heap.stats();
    const arc = Arc.new(new Mutex(0));
    const ws = [1, 2, 3].map(() => syncJob('arcWork', [send(arc.clone())], 1000));
    expect(arc.strongCount()).toBe(4);
    expect(await Promise.all(ws.map((w) => firstMessage(w)))).toEqual(['done', 'done', 'done']);
    await Promise.all(ws.map((w) => exited(w)));
    expect(arc.strongCount()).toBe(1); // every worker dropped its clone
    const g = await arc.get().lock();
    expect(g.value).toBe(3000);
    g.unlock();
    const weak = arc.downgrade();
    arc.drop(); // last strong: the Mutex and its value go
    expect(weak.upgrade()).toBeNull();
    expect(weak.strongCount()).toBe(0);
    weak.drop(); // last weak: the Arc block goes
    heap.trim();
    expect(heap.stats().blocks).toBe(base.blocks);
    expect(heap.stats().inUse).toBe(base.inUse);
  });

  it('moves on send: the sender\'s handle then throws and says to clone() first', () => {
    const arc = Arc.new({ answer: 42 });
    const ref = arc[SHARED]();
    expect(arc.get()).toEqual({ answer: 42 }); // not moved until the spawn commits
    ref.commit!();
    expect(() => arc.get()).toThrow(HandleStateError);
    expect(() => arc.clone()).toThrow(/was moved .*call \.clone\(\) before passing it/);
    // The receiver owns the count that moved.
    const received = reviverFor('Arc')(globalHeap(), ref.offset) as Arc<{ answer: number }>;
    expect(received.get().answer).toBe(42);
    received.drop();
  });

  it('weak upgrade works while a strong exists; dropping twice throws', () => {
    const arc = Arc.new('hello');
    const weak = arc.downgrade();
    expect(arc.weakCount()).toBe(1);
    const again = weak.upgrade()!;
    expect(again.get()).toBe('hello');
    expect(Arc.ptrEq(arc, again)).toBe(true);
    expect(arc.strongCount()).toBe(2);
    again.drop();
    expect(() => again.drop()).toThrow(/already dropped/);
    {
      using scoped = arc.clone();
      expect(scoped.strongCount()).toBe(2);
    }
    expect(arc.strongCount()).toBe(1);
    arc.drop();
    expect(weak.upgrade()).toBeNull();
    weak.drop();
  });

  it('new Arc(value) and new Weak() say how an Arc and a Weak are made', () => {
    const NewArc = Arc as unknown as new (v: unknown) => unknown;
    const NewWeak = Weak as unknown as new () => unknown;
    expect(() => new NewArc(5)).toThrow(/^spindle: an Arc is made by Arc\.new\(value\), not new Arc\(value\)$/);
    expect(() => new NewWeak()).toThrow(/^spindle: a Weak is made by arc\.downgrade\(\), not new Weak\(\)$/);
  });

  it('refuses a shared object from another heap', () => {
    const other = new SharedHeap({ initialBytes: 4096 });
    const m = new Mutex(1, { heap: other });
    expect(() => Arc.new(m)).toThrow(HeapMismatchError);
    expect(() => Arc.new(m)).toThrow(/lives in another SharedHeap/);
    const arc = Arc.new(m, { heap: other });
    arc.drop();
  });
});
