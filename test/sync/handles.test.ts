import { describe, it, expect } from 'vitest';
import { reviverFor, type SharedHandle } from '../../src/shared/handle.js';
import * as sync from '../../src/sync/index.js';
import { firstMessage, send, syncJob } from '../helpers.js';

describe('shared-handle protocol', () => {
  it('every kind crosses to a worker as (kind, offset) and comes back as the same object', async () => {
    const objects: SharedHandle[] = [
      sync.Arc.new(1),
      sync.Arc.new(2).downgrade(),
      new sync.Mutex(0),
      new sync.RwLock(0),
      new sync.Semaphore(1),
      new sync.Notify(),
      new sync.Barrier(2),
      new sync.OnceCell(),
      new sync.AtomicI32(),
      new sync.AtomicU32(),
      new sync.AtomicI64(),
      new sync.SharedMap(),
    ];
    const sent = objects.map((o) => send(o));
    const back = await firstMessage<Array<{ kind: string; offset: number; ctor: string }>>(syncJob('echo', sent));
    expect(back.map((b) => [b.kind, b.offset])).toEqual(sent.map((s) => [s.kind, s.offset]));
    expect(back.map((b) => b.ctor)).toEqual(sent.map((s) => s.kind));
    for (const b of back) expect((reviverFor(b.kind)(sync.globalHeap(), b.offset) as object).constructor.name).toBe(b.kind);
  });

  it('a stale or wrong-kind offset is refused, not misread', () => {
    const m = new sync.Mutex(0);
    const off = send(m).offset;
    expect(() => reviverFor('RwLock')(sync.globalHeap(), off)).toThrow(/not a live RwLock/);
    m.free();
    expect(() => reviverFor('Mutex')(sync.globalHeap(), off)).toThrow(sync.HandleStateError);
    expect(() => m.tryLock()).toThrow(/freed/);
  });

  it('heap exhaustion is a RangeError and leaves the heap usable', () => {
    const heap = new sync.SharedHeap({ initialBytes: 4096, maxBytes: 16 * 1024 });
    const m = new sync.Mutex('', { heap });
    const g = m.tryLock()!;
    expect(() => { g.value = 'x'.repeat(20_000); }).toThrow(/shared heap exhausted/);
    expect(g.value).toBe('');
    g.value = 'fits';
    g.unlock();
    expect(m.tryLock()!.value).toBe('fits');
  });
});
