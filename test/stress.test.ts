// Small-capacity stress (tokio's loom trick, by size): slots of 4 and 16,
// rings of twice that, deques of 4, so that every full / empty / wrap-around
// edge of every queue is crossed thousands of times in seconds — with more
// workers than cores.
import { describe, expect, it } from 'vitest';
import { Runtime } from '../src/index.js';
import { kInternal } from '../src/runtime.js';
import * as t from './fixtures/tasks.js';
import * as lt from './fixtures/lifecycle-tasks.js';
import { STRESS, within } from './helpers.js';

const CONFIGS = [
  { workers: 1, slots: 4, dequeCapacity: 4 },
  { workers: 3, slots: 4, dequeCapacity: 4 },
  { workers: 2, slots: 16, dequeCapacity: 4 },
  { workers: 4, slots: 16, dequeCapacity: 8 },
];

describe('tiny capacities: nothing lost at any edge', () => {
  for (const c of CONFIGS) {
    it(`${c.workers} workers, ${c.slots} slots, deques of ${c.dequeCapacity}`, async () => {
      const rt = new Runtime({ workers: c.workers, [kInternal]: { slots: c.slots, dequeCapacity: c.dequeCapacity } } as never);
      try {
        const rounds = STRESS ? 50 : 5;
        for (let r = 0; r < rounds; r++) {
          const n = 5000;
          const tiny = Array.from({ length: n }, (_, i) => rt.spawn(t.inc, i));
          const forks = Array.from({ length: 20 }, () => rt.spawn(lt.fanOutObj, 30));
          const trees = Array.from({ length: 5 }, () => rt.spawn(lt.tree, 7));
          const [a, b, d] = await within(
            Promise.all([Promise.all(tiny), Promise.all(forks), Promise.all(trees)]),
            60_000,
            `round ${r} (${JSON.stringify(rt.metrics())})`,
          );
          a.forEach((v, i) => expect(v).toBe(i + 1));
          b.forEach((v) => expect(v).toBe(435));
          d.forEach((v) => expect(v).toBe(128));
        }
        await within(rt.run(() => {}), 10_000, 'quiet');
        const m = rt.metrics();
        expect(m.live).toBe(0);
        expect(m.spawned).toBe(m.completed);
        expect(m.injectorDepth).toBe(0);
      } finally {
        await within(rt.shutdown(), 10_000, 'shutdown');
      }
    }, 300_000);
  }
});

describe('tasks waiting for a slot (the overflow) and slots handed straight to them', () => {
  it('aborting waiting tasks at random: they never run, the rest run once, nothing is left over', async () => {
    const rt = new Runtime({ workers: 2, [kInternal]: { slots: 4, dequeCapacity: 4 } } as never);
    try {
      const n = STRESS ? 50_000 : 5000;
      const ran = (m: ReturnType<typeof rt.metrics>) => m.workers.reduce((s, w) => s + w.tasksRun, 0);
      const before = rt.metrics();
      const hs = Array.from({ length: n }, (_, i) => rt.spawn(t.inc, i));
      // Every third task, and a run of consecutive ones, aborted while most still wait in the overflow.
      const aborted = new Set<number>();
      for (let i = 0; i < n; i += 3) aborted.add(i);
      for (let i = 1000; i < 1100; i++) aborted.add(i);
      for (const i of aborted) hs[i]!.abort();
      const out = await within(Promise.allSettled(hs), 60_000, 'settle');
      let cancelled = 0;
      out.forEach((r, i) => {
        if (r.status === 'fulfilled') {
          expect(aborted.has(i), `task ${i} was aborted but fulfilled`).toBe(false);
          expect(r.value).toBe(i + 1);
        } else {
          expect(aborted.has(i), `task ${i} rejected without being aborted`).toBe(true);
          expect((r.reason as { isCancelled(): boolean }).isCancelled()).toBe(true);
          cancelled++;
        }
      });
      expect(cancelled).toBe(aborted.size);
      await within(rt.run(() => {}), 10_000, 'quiet');
      const after = rt.metrics();
      // Only the few already in a slot when aborted (4 slots) may have been claimed by a worker first.
      const delta = ran(after) - ran(before);
      expect(delta).toBeGreaterThanOrEqual(n - aborted.size);
      expect(delta).toBeLessThanOrEqual(n - aborted.size + 4);
      expect(after.overflowDepth).toBe(0);
      expect(after.spawned - before.spawned).toBe(n);
      expect(after.completed - before.completed).toBe(n);
      expect(after.live).toBe(0);
    } finally {
      await within(rt.shutdown(), 10_000, 'shutdown');
    }
  }, 120_000);
});

