// Regression tests for issue 7 ("Nothing lost, ever"): each one failed on the
// code before the slot lifecycle was rebuilt.
import { spawn as spawnProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ErrorCode, JoinError, Runtime } from '../src/index.js';
import { kTerminateWorker } from '../src/runtime.js';
import * as t from './fixtures/tasks.js';
import * as lt from './fixtures/lifecycle-tasks.js';
import { neverRuns } from './fixtures/exit-on-import.js';
import { STRESS, rejectionOf, within } from './helpers.js';

async function flagSet(flags: Int32Array, i: number, what: string): Promise<void> {
  const r = Atomics.waitAsync(flags, i, 0, 10_000);
  if (r.async) await r.value;
  if (Atomics.load(flags, i) === 0) throw new Error(`timed out waiting for ${what}`);
}

function runScript(name: string, args: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = fileURLToPath(new URL(`./fixtures/${name}.js`, import.meta.url));
  const child = spawnProcess(process.execPath, [file, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d));
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  return within<{ code: number | null; stdout: string; stderr: string }>(
    new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr }))),
    20_000,
    `the script ${name} to exit`,
  ).finally(() => child.kill('SIGKILL'));
}

describe('defect 1: many tasks at once, none lost', () => {
  const runs = STRESS ? 500 : 20;
  it(`200,000 tiny tasks spawned in a loop all complete, ${runs} runs in a row`, async () => {
    const rt = new Runtime({ workers: 2 });
    try {
      for (let run = 0; run < runs; run++) {
        const hs = new Array(200_000);
        for (let i = 0; i < hs.length; i++) hs[i] = rt.spawn(t.inc, i);
        const out = await within(Promise.all(hs), 60_000, `run ${run}: 200,000 tasks (metrics ${JSON.stringify(rt.metrics())})`);
        for (let i = 0; i < out.length; i += 9973) expect(out[i]).toBe(i + 1);
        expect(out[out.length - 1]).toBe(200_000);
      }
      const m = rt.metrics();
      expect(m.spawned).toBe(m.completed);
      expect(m.live).toBe(0);
    } finally {
      await rt.shutdown();
    }
  }, 600_000);
});

describe('defect 2: a task that kills its worker at start fails instead of looping', () => {
  it('a module whose import kills the worker: the task fails with TASK_KILLS_WORKER after 2 deaths', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const e = (await within(rejectionOf(rt.spawn(neverRuns)), 20_000, 'the crash-looping task to fail')) as JoinError;
      expect(e).toBeInstanceOf(JoinError);
      expect(e.isPanic()).toBe(true);
      const p = e.intoPanic() as Error & { code: string };
      expect(p.code).toBe(ErrorCode.TASK_KILLS_WORKER);
      expect(p.message).toMatch(/killed its worker 2 times/);
      expect(await within(rt.spawn(t.add, 1, 2), 10_000, 'a task after the crash loop')).toBe(3);
    } finally {
      await within(rt.shutdown(), 10_000, 'shutdown');
    }
  });

  it('abort() stops a crash-looping task', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const h = rt.spawn(neverRuns);
      h.abort();
      expect(((await rejectionOf(h)) as JoinError).isCancelled()).toBe(true);
      expect(await within(rt.spawn(t.add, 2, 2), 10_000, 'a task after the abort')).toBe(4);
      expect(rt.metrics().live).toBe(0);
    } finally {
      await within(rt.shutdown(), 10_000, 'shutdown');
    }
  });
});

describe('defect 3: a panic is reported once, iff nobody observed it', () => {
  it('a child panic its parent catches later is not reported', async () => {
    const reports: string[] = [];
    const rt = new Runtime({ workers: 2, onPanic: (e) => reports.push(e.message) });
    expect(await rt.spawn(lt.catchLater, 20)).toMatch(/caught later/);
    await rt.shutdown();
    expect(reports).toStrictEqual([]);
  });

  it('a child panic nobody observes is reported through onPanic, once', async () => {
    const reports: string[] = [];
    const rt = new Runtime({ workers: 2, onPanic: (e) => reports.push(e.message) });
    expect(await rt.spawn(lt.dropChild)).toBe('dropped');
    await rt.shutdown();
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/dropped by its parent/);
  });

  it('a main-thread panic never awaited is reported at shutdown, even while its handle is alive', async () => {
    const reports: string[] = [];
    const rt = new Runtime({ workers: 1, onPanic: (e) => reports.push(e.message) });
    const kept = rt.spawn(t.boom, 'kept but never awaited');
    await rt.shutdown();
    expect(kept.isFinished()).toBe(true);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/kept but never awaited/);
  });

  it('a panic observed late (after it settled) is not reported', async () => {
    const reports: string[] = [];
    const rt = new Runtime({ workers: 1, onPanic: (e) => reports.push(e.message) });
    const h = rt.spawn(t.boom, 'seen late');
    await rt.run(() => {});
    expect(h.isFinished()).toBe(true);
    await rejectionOf(h);
    await rt.shutdown();
    expect(reports).toStrictEqual([]);
  });

  it('a script that never awaits a failing task sees the report on stderr once, at exit', async () => {
    for (const mode of ['exit', 'shutdown']) {
      const r = await runScript('unawaited-panic', [mode]);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ok 3/);
      expect(r.stderr.match(/never awaited/g) ?? []).toHaveLength(1);
    }
  });
});

describe('defect 4: a task cancelled at yieldNow() sees its signal fire', () => {
  it('the AbortSignal fires before the cancellation point throws', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const flags = new Int32Array(new SharedArrayBuffer(8));
      const h = rt.spawn(lt.signalAtYield, flags);
      await flagSet(flags, 0, 'the task to start');
      h.abort();
      await rejectionOf(h);
      await flagSet(flags, 1, 'the task to end');
      expect(Atomics.load(flags, 1)).toBe(1);
    } finally {
      await rt.shutdown();
    }
  });
});

describe('defect 5: task ids are unique within the process', () => {
  it('two runtimes, and a worker and its replacement, never hand out the same id', async () => {
    const a = new Runtime({ workers: 1 });
    const b = new Runtime({ workers: 1 });
    try {
      const ids = new Set<number>();
      const add = (id: number): void => {
        expect(ids.has(id)).toBe(false);
        ids.add(id);
      };
      for (const rt of [a, b]) for (const id of await rt.spawn(lt.childIds, 5)) add(id);
      a[kTerminateWorker](0);
      for (const id of await within(a.spawn(lt.childIds, 5), 10_000, 'a task on the replacement')) add(id);
      expect(ids.size).toBe(18);
    } finally {
      await Promise.all([a.shutdown(), b.shutdown()]);
    }
  });
});

describe('worker heap limits', () => {
  it('a worker\'s young generation is capped at 12 MB by default; given limits replace that', async () => {
    const dflt = new Runtime({ workers: 1 });
    const mine = new Runtime({ workers: 1, resourceLimits: { maxYoungGenerationSizeMb: 24, maxOldGenerationSizeMb: 512 } });
    try {
      expect((await dflt.spawn(t.heapLimits)).maxYoungGenerationSizeMb).toBe(12);
      const m = await mine.spawn(t.heapLimits);
      expect(m.maxYoungGenerationSizeMb).toBe(24);
      expect(m.maxOldGenerationSizeMb).toBe(512);
    } finally {
      await Promise.all([dflt.shutdown(), mine.shutdown()]);
    }
  });
});

describe('defect 12: resourceLimits is validated', () => {
  it('a resourceLimits of the wrong shape is a clear error', () => {
    expect(() => new Runtime({ workers: 1, resourceLimits: 16 as never })).toThrow(/resourceLimits must be an object/);
    expect(() => new Runtime({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: '16' } as never })).toThrow(
      /resourceLimits.maxOldGenerationSizeMb must be a positive number/,
    );
    expect(() => new Runtime({ workers: 1, resourceLimits: { maxOldGenSizeMb: 16 } as never })).toThrow(
      /unknown resourceLimits option 'maxOldGenSizeMb'/,
    );
  });
});

describe('defect 13: an idle worker steals from a worker that just imported its first task module', () => {
  it('a child published by a spinning parent runs elsewhere while the parent spins', async () => {
    const rt = new Runtime({ workers: 2 });
    try {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      expect(await within(rt.spawn(lt.spinUntilStolen, flag, 5_000), 20_000, 'the parent')).toBe(true);
    } finally {
      await rt.shutdown();
    }
  });
});
