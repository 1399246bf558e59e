import { describe, it, expect } from 'vitest';
import { Arc, Mutex, OnceCell, RwLock, Runtime, SharedMap } from '../../src/index.js';
import { echo } from '../fixtures/tasks.js';

class Point {
  #secret = 42;
  constructor(public x: number, public y: number) {}
  get secret(): number {
    return this.#secret;
  }
}

const NOT_SENDABLE = expect.objectContaining({ code: 'ERR_SPINDLE_NOT_SENDABLE' });

describe('a value that cannot cross threads is a TypeError at the call site, everywhere', () => {
  it('SharedMap.set refuses a class instance (it would be stored as {}), naming the path', () => {
    const map = new SharedMap<string, unknown>();
    expect(() => map.set('p', new Point(1, 2))).toThrow(TypeError);
    expect(() => map.set('p', new Point(1, 2))).toThrow(NOT_SENDABLE);
    expect(() => map.set('p', { shapes: [{ at: new Point(1, 2) }] })).toThrow(/\.shapes\[0\]\.at/);
    expect(() => map.set('p', { shapes: [{ at: new Point(1, 2) }] })).toThrow(/Point/);
    expect(map.has('p')).toBe(false);
    expect(() => map.update('q', () => new Point(0, 0) as never)).toThrow(NOT_SENDABLE);
    map.free();
  });

  it('new Mutex / RwLock / Arc.new / OnceCell.set and guard.value = refuse it too', async () => {
    expect(() => new Mutex(new Point(1, 2))).toThrow(NOT_SENDABLE);
    expect(() => new RwLock({ p: new Point(1, 2) })).toThrow(NOT_SENDABLE);
    expect(() => Arc.new([new Point(1, 2)])).toThrow(NOT_SENDABLE);
    const cell = new OnceCell<unknown>();
    expect(() => cell.set(new Point(1, 2))).toThrow(NOT_SENDABLE);
    expect(cell.initialized()).toBe(false);
    const m = new Mutex<unknown>(0);
    const g = await m.lock();
    expect(() => { g.value = new Point(3, 4); }).toThrow(NOT_SENDABLE);
    expect(g.value).toBe(0);
    g.unlock();
    m.free();
  });

  it('spawn refuses it with the same code, naming the argument', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      expect(() => rt.spawn(echo, new Point(1, 2) as never)).toThrow(NOT_SENDABLE);
      expect(() => rt.spawn(echo, new Point(1, 2) as never)).toThrow(/argument 1/);
      // A cyclic value keeps its cycles and still refuses what it cannot carry.
      const cyclic: Record<string, unknown> = { name: 'root' };
      cyclic.self = cyclic;
      const back = (await rt.spawn(echo, cyclic)) as Record<string, unknown>;
      expect(back.self).toBe(back);
      cyclic.p = new Point(1, 2);
      expect(() => rt.spawn(echo, cyclic)).toThrow(NOT_SENDABLE);
    } finally {
      await rt.shutdown();
    }
  });

  it('stored values keep cycles too, and shared handles inside them stay references', () => {
    const map = new SharedMap<string, unknown>();
    const lock = new Mutex(7);
    const v: Record<string, unknown> = { lock, list: [1, 'two'] };
    (v.list as unknown[]).push(v);
    map.set('v', v);
    const back = map.get('v') as { lock: Mutex<number>; list: unknown[] };
    expect(back.list[2]).toBe(back);
    const g = back.lock.tryLock()!;
    expect(g.value).toBe(7);
    g.unlock();
    map.free();
    lock.free();
  });
});
