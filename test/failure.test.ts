import { spawn as spawnProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { JoinError, Runtime } from '../src/index.js';
import { kTerminateWorker } from '../src/runtime.js';
import * as t from './fixtures/tasks.js';
import { rejectionOf, until, within } from './helpers.js';

/** Waits, without sleeping blindly, until word `i` of `flags` is non-zero (bounded). */
async function flagSet(flags: Int32Array, i: number, what: string): Promise<void> {
  const r = Atomics.waitAsync(flags, i, 0, 10_000);
  if (r.async) await r.value;
  if (Atomics.load(flags, i) === 0) throw new Error(`timed out waiting for ${what}`);
}

const panicOf = async (p: PromiseLike<unknown>): Promise<Error> => ((await rejectionOf(p)) as JoinError).intoPanic() as Error;

describe('dying workers', () => {
  it('process.exit() in a task fails that task only; queued tasks still run, on a replacement', async () => {
    const rt = new Runtime({ workers: 2 });
    try {
      const counts = new Int32Array(new SharedArrayBuffer(4 * 40));
      const before = Array.from({ length: 20 }, (_, i) => rt.spawn(t.work, counts, i, 2000));
      const bad = rt.spawn(t.exitNow, 3);
      const after = Array.from({ length: 20 }, (_, i) => rt.spawn(t.work, counts, 20 + i, 2000));
      const e = await panicOf(bad);
      expect(e.message).toMatch(/worker \d died while running this task \(it exited with code 3\)/);
      expect((e as Error & { code: string }).code).toBe('ERR_SPINDLE_WORKER_DIED');
      expect(await within(Promise.all([...before, ...after]), 20_000, 'the other tasks')).toHaveLength(40);
      expect([...counts]).toStrictEqual(new Array(40).fill(1)); // each ran exactly once
      expect(await rt.spawn(t.add, 1, 2)).toBe(3);
    } finally {
      await rt.shutdown();
    }
  });

  it('an uncaught exception in a worker’s event loop replaces the worker', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      expect(await rt.spawn(t.throwInEventLoop, 'boom in the loop')).toBe('scheduled');
      // The worker dies after the task finished; the next task runs on its replacement.
      expect(await within(rt.spawn(t.add, 2, 2), 10_000, 'a task after the crash')).toBe(4);
    } finally {
      await rt.shutdown();
    }
  });

  it('a promise a task leaves rejected with no handler is reported through onPanic; the worker and its other tasks live on', async () => {
    const reported: JoinError[] = [];
    const rt = new Runtime({ workers: 1, onPanic: (e) => reported.push(e) });
    try {
      const neighbour = rt.spawn(t.sleepThen, 300, 'neighbour'); // running on the same (only) worker meanwhile
      expect(await rt.spawn(t.strayRejection, 'left behind')).toBe(1);
      await until(() => reported.length === 1, 5000, 'the report of the stray rejection');
      const e = reported[0]!.intoPanic() as Error;
      expect(e).toBeInstanceOf(RangeError);
      expect(e.message).toBe('left behind');
      expect(await neighbour).toBe('neighbour');
      expect(rt.metrics().workerDeaths).toBe(0);
    } finally {
      await rt.shutdown();
    }
  });

  it('running out of memory under resourceLimits fails the task and says why', async () => {
    const rt = new Runtime({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 16 } });
    try {
      const e = await panicOf(rt.spawn(t.hog));
      expect(e.message).toMatch(/worker 0 died.*memory limit/);
      expect(await rt.spawn(t.add, 5, 6)).toBe(11);
    } finally {
      await rt.shutdown();
    }
  });

  it('workers that die at start-up again and again stop the respawning and fail pending work', async () => {
    // 4 MB: too little to start spindle in a worker, enough for V8 to deserialize its
    // snapshot (with 1-2 MB, Node 22 and 24 abort the whole process: "GC during deserialization").
    const rt = new Runtime({ workers: 1, resourceLimits: { maxOldGenerationSizeMb: 4, maxYoungGenerationSizeMb: 1 } });
    const e = (await rejectionOf(rt.spawn(t.add, 1, 1))) as JoinError;
    expect(e.message).toMatch(/3 workers in a row died during start-up/);
    expect(() => rt.spawn(t.add, 1, 1)).toThrow(/died during start-up/);
    await within(rt.shutdown(), 10_000, 'shutdown after giving up');
  });
});

describe('cancellation', () => {
  it('abort() of a running task fires at its next yieldNow(); the handle is cancelled', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const flags = new Int32Array(new SharedArrayBuffer(8));
      const h = rt.spawn(t.cooperative, flags);
      await flagSet(flags, 0, 'the task to start');
      h.abort();
      expect(((await rejectionOf(h)) as JoinError).isCancelled()).toBe(true);
      await flagSet(flags, 1, 'the task to see its cancellation');
      expect(Atomics.load(flags, 1)).toBe(1);
      expect(await rt.spawn(t.add, 1, 1)).toBe(2); // the worker is fine
    } finally {
      await rt.shutdown();
    }
  });

  it('abort() fires the AbortSignal of a task that is waiting on something else', async () => {
    const rt = new Runtime({ workers: 2 });
    try {
      const flags = new Int32Array(new SharedArrayBuffer(12));
      const h = rt.spawn(t.awaitSignal, flags);
      await flagSet(flags, 0, 'the task to start');
      h.abortHandle().abort();
      expect(h.isFinished()).toBe(true);
      await flagSet(flags, 2, 'the signal to fire in the worker');
    } finally {
      await rt.shutdown();
    }
  });

  it('spawnWith: an external signal cancels; a timeout covers queued time', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const ac = new AbortController();
      const flags = new Int32Array(new SharedArrayBuffer(12));
      const viaSignal = rt.spawnWith({ signal: ac.signal }, t.awaitSignal, flags);
      ac.abort();
      expect(((await rejectionOf(viaSignal)) as JoinError).isCancelled()).toBe(true);
      const started = new Int32Array(new SharedArrayBuffer(4));
      const blocker = rt.spawn(t.busyFlag, started, 300);
      await flagSet(started, 0, 'the blocking task to start'); // the one worker is busy from here on
      const counts = new Int32Array(new SharedArrayBuffer(4));
      const late = rt.spawnWith({ timeout: 20 }, t.work, counts, 0, 1);
      const e = (await rejectionOf(late)) as JoinError;
      expect(e.isCancelled()).toBe(true);
      expect(e.message).toMatch(/timeout of 20 ms/);
      await blocker;
      await rt.run(() => {});
      expect(counts[0]).toBe(0); // timed out while queued: it never ran
      expect(() => rt.spawnWith({ timeout: -1 }, t.add, 1, 2)).toThrow(RangeError);
      expect(() => rt.spawnWith({ signal: 'x' } as never, t.add, 1, 2)).toThrow(/AbortSignal/);
    } finally {
      await rt.shutdown();
    }
  });

  it('abort({ force: true }) ends a task that never yields, failing only what ran on its worker', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const flags = new Int32Array(new SharedArrayBuffer(8));
      const sleeper = rt.spawn(t.startThenSleep, flags, 60_000); // suspended on the same worker
      await flagSet(flags, 1, 'the sleeper to start');
      const stuck = rt.spawn(t.spinForever, flags);
      await flagSet(flags, 0, 'the spinning task to start');
      stuck.abort({ force: true, grace: 50 });
      expect(((await rejectionOf(stuck)) as JoinError).isCancelled()).toBe(true);
      const e = await panicOf(sleeper);
      expect(e.message).toMatch(/terminated by abort\(\{ force: true \}\) of task/);
      expect(await within(rt.spawn(t.add, 20, 22), 10_000, 'a task on the replacement worker')).toBe(42);
    } finally {
      await rt.shutdown();
    }
  });
});

describe('panics', () => {
  it('an error class registered on both sides comes back as that class', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const e = await panicOf(rt.spawn(t.overQuota, 10));
      expect(e).toBeInstanceOf(t.QuotaError);
      expect((e as t.QuotaError).describe()).toBe('quota exceeded (limit 10)');
      expect(e.stack).toContain('overQuota');
    } finally {
      await rt.shutdown();
    }
  });

  it('a detached panic goes to the onPanic hook once its handle is gone', async () => {
    const script = fileURLToPath(new URL('./fixtures/detached-panic.js', import.meta.url));
    const child = spawnProcess(process.execPath, ['--expose-gc', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    const code = await within(new Promise((r) => child.on('exit', r)), 15_000, 'the child to exit');
    expect(out).toMatch(/hook: task \d+ panicked: Error: nobody awaits me/);
    expect(out).not.toMatch(/unhandled/i);
    expect(code).toBe(0);
  });
});

describe('shutdown', () => {
  it('shutdown({ timeout }) cancels what did not finish in time; every handle settles', async () => {
    const rt = new Runtime({ workers: 1 });
    const slow = rt.spawn(t.spinForever);
    const queued = rt.spawn(t.add, 1, 2);
    await within(rt.shutdown({ timeout: 50 }), 10_000, 'shutdown with a timeout');
    for (const h of [slow, queued]) expect(((await rejectionOf(h)) as JoinError).isCancelled()).toBe(true);
    expect(() => rt.spawn(t.add, 1, 2)).toThrow(/after shutdown/);
  });

  it('shutdownNow() cancels everything at once', async () => {
    const rt = new Runtime({ workers: 2 });
    const hs = Array.from({ length: 50 }, (_, i) => rt.spawn(t.busy, 20, i));
    await within(rt.shutdownNow(), 10_000, 'shutdownNow');
    const settled = await Promise.allSettled(hs);
    const cancelled = settled.filter((s) => s.status === 'rejected' && (s.reason as JoinError).isCancelled()).length;
    const done = settled.filter((s) => s.status === 'fulfilled').length;
    expect(cancelled + done).toBe(50);
    expect(cancelled).toBeGreaterThan(0);
  });

  it('graceful shutdown() lets queued and running tasks finish', async () => {
    const rt = new Runtime({ workers: 2 });
    const hs = Array.from({ length: 20 }, (_, i) => rt.spawn(t.busy, 5, i));
    await rt.shutdown();
    expect(await Promise.all(hs)).toStrictEqual(Array.from({ length: 20 }, (_, i) => i));
  });
});

describe('fault injection', () => {
  const N = process.env.SPINDLE_STRESS ? 100_000 : 5_000;

  it(`${N} tasks while workers are killed at random: each handle settles once, queued tasks run exactly once`, async () => {
    const rt = new Runtime({ workers: 3 });
    try {
      const counts = new Int32Array(new SharedArrayBuffer(4 * N));
      let seed = 12345;
      const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const hs: PromiseLike<unknown>[] = [];
      const exits = new Set<number>();
      for (let i = 0; i < N; i++) {
        if (i > 0 && i % Math.floor(N / 8) === 0) {
          exits.add(hs.length);
          hs.push(rt.spawn(t.exitNow, 7)); // a crash from inside a task
        }
        hs.push(rt.spawn(t.work, counts, i, 20));
      }
      // And kills from outside, at moments the scheduler does not choose.
      let kills = 0;
      // Spread over the run (≈ 20 µs × N / 3 workers): not only while workers start.
      const killer = setInterval(() => {
        if (kills < 8) {
          kills++;
          rt[kTerminateWorker](Math.floor(rand() * 3));
        }
      }, Math.max(5, N / 400));
      const settled = await within(Promise.allSettled(hs), 120_000, 'every handle to settle');
      clearInterval(killer);
      let failed = 0;
      let k = 0;
      for (let j = 0; j < hs.length; j++) {
        const s = settled[j]!;
        if (exits.has(j)) {
          expect(s.status).toBe('rejected');
          continue;
        }
        const i = k++;
        if (s.status === 'fulfilled') {
          expect(s.value).toBe(i);
          if (counts[i] !== 1) expect.fail(`task ${i} completed but ran ${counts[i]} times`);
        } else {
          failed++;
          const p = (s.reason as JoinError).intoPanic() as Error & { code?: string };
          expect(p.code, p.message).toBe('ERR_SPINDLE_WORKER_DIED');
          // It was running when its worker died: it ran at most once.
          if (counts[i]! > 1) expect.fail(`failed task ${i} ran ${counts[i]} times`);
        }
      }
      // Only tasks running on a dying worker fail: at most one per death (sync tasks).
      expect(failed).toBeLessThanOrEqual(kills + exits.size);
      expect(await rt.spawn(t.add, 1, 1)).toBe(2);
    } finally {
      await rt.shutdown();
    }
  }, 150_000);
});
