// A JoinHandle is a native promise whose `constructor` lookup tells it that
// it is observed (join.ts). Every promise route must deliver a panic as a
// rejection and keep it from onPanic; an unobserved panic must reach onPanic
// and never be an unhandled rejection; on the main thread and in workers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinError, JoinHandle, Runtime } from '../src/index.js';
import * as t from './fixtures/tasks.js';
import * as ht from './fixtures/handle-tasks.js';

let rt: Runtime;
const reports: string[] = [];
beforeAll(() => {
  rt = new Runtime({ workers: 2, onPanic: (e) => reports.push(e.message) });
});
afterAll(() => rt.shutdown());

describe('JoinHandle is a native promise', () => {
  it('is taken by Promise.resolve as it is, and derives plain promises', async () => {
    const h = rt.spawn(t.add, 1, 2);
    expect(h).toBeInstanceOf(Promise);
    expect(h).toBeInstanceOf(JoinHandle);
    expect(Promise.resolve(h)).toBe(h);
    const d = h.then((v) => v * 2);
    expect(Object.getPrototypeOf(d)).toBe(Promise.prototype);
    expect(await d).toBe(6);
    expect(Object.prototype.toString.call(h)).toBe('[object JoinHandle]');
    expect(JoinHandle.prototype.constructor).toBe(Promise);
  });

  it('cannot be made from an executor: JoinHandle.resolve and new JoinHandle say to use spawn', () => {
    expect(() => new (JoinHandle as unknown as new (f: unknown) => unknown)(() => {})).toThrow(/made by spawn\(\)/);
    expect(() => (JoinHandle as unknown as PromiseConstructor).resolve(1)).toThrow(/made by spawn\(\)/);
  });

  for (const late of [false, true]) {
    it(`every promise route delivers a main-thread panic${late ? ' observed after it settled' : ''}, and none reaches onPanic`, async () => {
      const before = reports.length;
      for (const [name, route] of Object.entries(ht.ROUTES)) {
        const h = rt.spawn(t.boom, `main via ${name}`);
        if (late) while (!h.isFinished()) await new Promise((r) => setImmediate(r));
        const e = await route(h);
        expect(e, name).toBeInstanceOf(JoinError);
        expect((e as JoinError).message, name).toMatch(`main via ${name}`);
      }
      await rt.run(() => {}); // a round trip: any report would have been posted by now
      expect(reports.slice(before)).toStrictEqual([]);
    });

    it(`every promise route delivers a worker-side child's panic${late ? ' observed after it settled' : ''}, and none reaches onPanic`, async () => {
      const before = reports.length;
      expect(await rt.spawn(ht.observeEveryRoute, late)).toStrictEqual([]);
      await rt.run(() => {});
      expect(reports.slice(before)).toStrictEqual([]);
    });
  }

  it('Promise.all over child handles inside a task (fork-join through a native promise)', async () => {
    expect(await rt.spawn(ht.sumChildren, 200)).toBe((199 * 200) / 2 + 200);
  });

  it('a handle passed as a task argument is refused, naming it, and is not observed by the refusal', async () => {
    const mine: string[] = [];
    const one = new Runtime({ workers: 1, onPanic: (e) => mine.push(e.message) });
    try {
      const h = one.spawn(t.boom, 'passed along');
      expect(() => one.spawn(t.echo as (v: unknown) => unknown, { h })).toThrow(/argument 1 \(at \.h\) is a JoinHandle, which cannot cross threads\. A pending value stays on its thread: await the JoinHandle/);
      while (!h.isFinished()) await new Promise((r) => setImmediate(r));
    } finally {
      await one.shutdown();
    }
    // Still unobserved: its panic went to onPanic (an observed one would have been an unhandled rejection).
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(/passed along/);
  });

  it('an unobserved panic stays out of the promise: onPanic gets it at shutdown, no unhandled rejection', async () => {
    const mine: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): void => void unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    const one = new Runtime({ workers: 1, onPanic: (e) => mine.push(e.message) });
    try {
      const h = one.spawn(t.boom, 'nobody looks');
      while (!h.isFinished()) await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      await one.shutdown();
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatch(/nobody looks/);
      expect(unhandled).toStrictEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
