// Death-safety, point by point: a worker is killed at each named fault point
// (src/shared/faults.ts) in the middle of a mixed workload — main-thread
// spawns, fork-join through slots with deque overflow, private fork-join,
// first imports — and every handle must settle exactly once, every task that
// succeeded must have run exactly once, and no count may leak.
import { describe, expect, it } from 'vitest';
import { ErrorCode, JoinError, Runtime } from '../src/index.js';
import { kInternal } from '../src/runtime.js';
import { FAULT_POINTS } from '../src/shared/faults.js';
import * as t from './fixtures/tasks.js';
import * as lt from './fixtures/lifecycle-tasks.js';
import { STRESS, within } from './helpers.js';

const DEATH_CODES: string[] = [ErrorCode.WORKER_DIED, ErrorCode.TASK_KILLS_WORKER];

describe('a worker killed at each fault point loses nothing', () => {
  for (const point of FAULT_POINTS) {
    // Armed in both workers, one death in all (once): else the second worker could reach its
    // point late, during the check that the runtime still works, and fail that task.
    it(point, async () => {
      const rt = new Runtime({ workers: 2, [kInternal]: { slots: 1024, dequeCapacity: 4, fault: { point, after: 2, once: new Int32Array(new SharedArrayBuffer(4)) } } } as never);
      try {
        const n = STRESS ? 3000 : 400;
        const counts = new Int32Array(new SharedArrayBuffer(4 * n));
        const plain = Array.from({ length: n }, (_, i) => rt.spawn(t.work, counts, i, 20));
        const forks = Array.from({ length: 12 }, () => rt.spawn(lt.fanOutObj, 20));
        const trees = Array.from({ length: 4 }, () => rt.spawn(lt.tree, 6));
        // Results too big for a slot live in the shared heap: workers allocate them, the main thread
        // frees them, so workers take batches from the shared lists under the allocator lock (the
        // mid-heap-lock point).
        const blob = (k: number): string => `${k}:`.padEnd(600, 'x');
        const blobs = Array.from({ length: 300 }, (_, k) => rt.spawn(t.blob, k));
        // A Notify and a Barrier in use on the workers (the mid-sync-wake point).
        const signals = Array.from({ length: 20 }, () => rt.spawn(lt.signalsInTask, 3));
        const settled = await within(Promise.allSettled([...plain, ...forks, ...trees, ...blobs, ...signals]), 30_000, `every handle to settle (${point})`);
        let failed = 0;
        settled.forEach((r, k) => {
          if (r.status === 'fulfilled') {
            if (k < n) {
              expect(r.value).toBe(k);
              expect(counts[k], `task ${k} ran once`).toBe(1);
            } else if (k < n + 12) expect(r.value).toBe(190);
            else if (k < n + 16) expect(r.value).toBe(64);
            else if (k < n + 316) expect(r.value).toBe(blob(k - n - 16));
            else expect(r.value).toBe(3);
          } else {
            failed++;
            const e = r.reason as JoinError;
            expect(e).toBeInstanceOf(JoinError);
            const p = e.intoPanic() as Error & { code?: string };
            // A fork-join parent may fail because one of its children died with the worker.
            const inner = p instanceof JoinError ? (p.intoPanic() as Error & { code?: string }) : p;
            expect(DEATH_CODES, inner.message).toContain(inner.code);
            if (k < n) expect(counts[k]).toBeLessThanOrEqual(1);
          }
        });
        await within(rt.run(() => {}), 10_000, 'the runtime to be quiet');
        const m = rt.metrics();
        expect(m.workerDeaths, `the fault point ${point} was reached`).toBeGreaterThanOrEqual(1);
        expect(m.live).toBe(0);
        expect(m.spawned).toBe(m.completed);
        expect(failed).toBeLessThan(settled.length);
        // The runtime still works after the death.
        expect(await within(rt.spawn(lt.tree, 5), 10_000, 'a task after the death')).toBe(32);
      } finally {
        await within(rt.shutdown(), 10_000, 'shutdown');
      }
    });
  }
});

// A worker that hands a task's outcome to the main thread with nothing else to
// do counts itself among the searchers first (workers/loop.ts, beforeHandOff),
// so that the main thread's next spawn wakes nobody. Killed right after that
// hand-off, its searcher share must be taken back: a share left behind would
// make every later spawn skip its wake-up, and the loop below would hang (it
// does with two workers when idle.ts forget's searcher branch is removed).
// With one worker nobody is parked, so no search is counted early: that case
// is the plain death at after-deliver; three is more workers than cores.
describe('a worker killed while counted as a searcher after a hand-off loses nothing', () => {
  for (const workers of [1, 2, 3]) {
    it(`${workers} worker(s): a loop of await spawn() goes on after the death`, async () => {
      const rt = new Runtime({ workers, [kInternal]: { fault: { point: 'after-deliver', after: 20, once: new Int32Array(new SharedArrayBuffer(4)) } } } as never);
      try {
        let failed = 0;
        for (let i = 0; i < 200; i++) {
          try {
            expect(await within(rt.spawn(t.add, i, 1), 10_000, `round trip ${i} (a searcher share left by the dead worker would hang it)`)).toBe(i + 1);
          } catch (e) {
            if (!(e instanceof JoinError)) throw e;
            expect(DEATH_CODES).toContain((e.intoPanic() as Error & { code?: string }).code);
            failed++;
          }
        }
        expect(failed).toBeLessThanOrEqual(1);
        expect(rt.metrics().workerDeaths, 'the fault point was reached').toBe(1);
        expect(await within(rt.run(() => 'quiet'), 10_000, 'the runtime to be quiet')).toBe('quiet');
      } finally {
        await within(rt.shutdown(), 10_000, 'shutdown');
      }
    });
  }
});
