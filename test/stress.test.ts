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
