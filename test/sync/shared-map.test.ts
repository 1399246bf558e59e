import { describe, it, expect } from 'vitest';
import { Mutex, SharedMap, globalHeap } from '../../src/sync/index.js';
import { controlWords, firstMessage, go, send, syncJob, STRESS } from '../helpers.js';

describe('SharedMap', () => {
  it('behaves like a Map: get/set/has/delete/size/update/iteration/clear', () => {
    const m = new SharedMap<string, unknown>({ shards: 4 });
    expect(m.get('a')).toBeUndefined();
    m.set('a', 1).set('b', 'two').set('c', { three: [3] }).set('ünï©ødé', null);
    expect(m.get('a')).toBe(1);
    expect(m.get('b')).toBe('two');
    expect(m.get('c')).toEqual({ three: [3] });
    expect(m.has('ünï©ødé')).toBe(true);
    expect(m.get('ünï©ødé')).toBeNull();
    expect(m.size).toBe(4);
    m.set('b', 'a much longer value than before, so the entry moves');
    expect(m.get('b')).toMatch(/much longer/);
    expect(m.update('a', (v) => (v as number) + 1)).toBe(2);
    expect(m.update('new', (v) => (v === undefined ? 'made' : 'wrong'))).toBe('made');
    expect(m.update('new', () => undefined)).toBeUndefined();
    expect(m.has('new')).toBe(false);
    expect(m.delete('c')).toBe(true);
    expect(m.delete('c')).toBe(false);
    expect(new Map(m)).toEqual(new Map<string, unknown>([['a', 2], ['b', 'a much longer value than before, so the entry moves'], ['ünï©ødé', null]]));
    expect([...m.keys()].sort()).toEqual(['a', 'b', 'ünï©ødé']);
    m.clear();
    expect(m.size).toBe(0);
    expect(() => m.set(1 as never, 1)).toThrow(/keys are strings/);
    expect(() => m.set('f', () => 1)).toThrow(/SharedMap\.set\(key, value\) is a function .* cannot cross threads/);
    m.free();
  });

  it('keeps values as structuredClone would, from the shared heap: long strings of both widths, holes, own __proto__ keys', () => {
    const m = new SharedMap<string, unknown>({ shards: 2 });
    // eslint-disable-next-line no-sparse-arrays
    const values: unknown[] = ['é'.repeat(1000), '日本'.repeat(500) + '\uD800', 'x'.repeat(17), [1, , 3], JSON.parse('{"__proto__": {"isAdmin": true}, "k": "v"}'), new Error('stored')];
    values.forEach((v, i) => m.set(`v${i}`, v));
    for (let round = 0; round < 2; round++) {
      values.forEach((v, i) => {
        const back = m.get(`v${i}`);
        if (v instanceof Error) expect((back as Error).message).toBe('stored');
        else expect(back).toStrictEqual(structuredClone(v));
      });
    }
    expect((m.get('v4') as { isAdmin?: boolean }).isAdmin).toBeUndefined();
    m.free();
  });

  it('grows its shards and gives every block back on free', () => {
    const heap = globalHeap();
    heap.trim();
    const base = heap.stats();
    const m = new SharedMap<string, number>();
    for (let i = 0; i < 20_000; i++) m.set(`key-${i}`, i);
    expect(m.size).toBe(20_000);
    for (let i = 0; i < 20_000; i += 997) expect(m.get(`key-${i}`)).toBe(i);
    m.free();
    heap.trim();
    expect(heap.stats().blocks).toBe(base.blocks);
  });

  it('concurrent writers from 4 threads leave exactly the expected contents', async () => {
    const n = STRESS ? 50_000 : 5_000;
    const m = new SharedMap<string, unknown>();
    const ctl = controlWords();
    const ws = [0, 1, 2, 3].map(() => syncJob('mapWriter', [send(m)], n, ctl));
    const ids = ws.map((w) => firstMessage<number>(w, 30_000));
    go(ctl);
    const expected = new Map<string, unknown>([['total', 4 * n]]);
    for (const id of await Promise.all(ids)) {
      for (let i = 0; i < n; i++) {
        const deleted = i % 3 === 1 && i + 1 < n; // the writer deletes key i when it writes i + 1
        if (!deleted) expected.set(`${id}-${i}`, { i, from: id, pad: 'x'.repeat(i % 40) });
      }
    }
    expect(m.size).toBe(expected.size);
    expect(new Map(m)).toEqual(expected);
  });

  it('stores shared handles by reference', async () => {
    const m = new SharedMap<string, Mutex<number>>();
    const lock = new Mutex(41);
    m.set('lock', lock);
    const g = await m.get('lock')!.lock();
    g.value = 42;
    g.unlock();
    expect(lock.tryLock()!.value).toBe(42);
    void send;
  });
});
