import { describe, it, expect } from 'vitest';
import { SHARED, reviverFor } from '../../src/shared/handle.js';
import { Arc, HandleStateError, Mutex, SharedMap, globalHeap } from '../../src/sync/index.js';
import { firstMessage, send, syncJob } from '../helpers.js';

/** A second handle to the same object, as another thread holding it would have. */
function otherHandle<T>(x: { [SHARED](): { kind: string; offset: number; generation?: number } }): T {
  const r = x[SHARED]();
  return (reviverFor(r.kind) as (...a: unknown[]) => unknown)(globalHeap(), r.offset, r.generation) as T;
}

describe('handle generations: use after free is refused, never misread', () => {
  it('a Mutex freed through its owning Arc cannot be locked through an old handle', () => {
    const arc = Arc.new(new Mutex(5));
    const m = arc.get();
    const g = m.tryLock()!;
    expect(g.value).toBe(5);
    g.unlock();
    arc.drop(); // last strong: the Arc frees the Mutex
    expect(() => m.tryLock()).toThrow(HandleStateError);
    expect(() => m.tryLock()).toThrow(expect.objectContaining({ code: 'ERR_SPINDLE_HANDLE_STATE' }));
  });

  it('a stale handle whose block now holds a new Mutex does not read the new value', () => {
    const m = new Mutex('old');
    const stale = otherHandle<Mutex<string>>(m);
    const off = m[SHARED]().offset;
    m.free();
    const fresh = new Mutex('new'); // same size class: the freed block is reused
    expect(fresh[SHARED]().offset).toBe(off);
    expect(() => stale.tryLock()).toThrow(HandleStateError);
    expect(() => stale.tryLock()).toThrow(/freed|stale/);
    const g = fresh.tryLock()!;
    expect(g.value).toBe('new');
    g.unlock();
    fresh.free();
  });

  it('an encoded handle that reaches a worker after its block was reused is refused there', async () => {
    const m = new Mutex(1);
    const sent = send(m);
    m.free();
    const fresh = new Mutex(2);
    expect(fresh[SHARED]().offset).toBe(sent.offset);
    const r = await firstMessage<{ name?: string; code?: string; value?: unknown }>(syncJob('staleTryLock', [sent]));
    expect(r).toMatchObject({ name: 'HandleStateError', code: 'ERR_SPINDLE_HANDLE_STATE' });
    fresh.free();
  });

  it('a handle stored in a SharedMap is refused on read once its object was freed and the block reused', () => {
    const map = new SharedMap<string, Mutex<number>>();
    const m = new Mutex(1);
    map.set('lock', m);
    m.free();
    const fresh = new Mutex(2);
    expect(() => map.get('lock')).toThrow(HandleStateError);
    fresh.free();
    map.free();
  });
});
