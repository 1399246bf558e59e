// spindle/bullmq against a real redis-server and real machine processes:
// no mocks of Redis or BullMQ. Each file run starts its own redis-server (own
// port, own temp dir) and stops it at the end.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Queue, type QueueEvents } from 'bullmq';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode, JoinError, Runtime, SpindleError, Arc } from '../../src/index.js';
import { bullRuntime, RemoteJoinError, serveQueue, type BullRuntime } from '../../src/bullmq/index.js';
import { rejectionOf, STRESS, until, within } from '../helpers.js';
import { RenderError } from './errors.js';
import { client, freePort, nextEvent, NO_REDIS, queueEvents, redisServerPath, startMachine, startRedis, type MachineProcess, type RedisServer } from './harness.js';
import { notOnMachines } from './producer-only.js';
import { double, flaky, mark, nested, render, square, waitForAbort } from './tasks.js';

if (redisServerPath() === undefined) {
  describe('spindle/bullmq', () => {
    it('needs redis-server', () => {
      throw new Error(NO_REDIS);
    });
  });
} else {
  describe('spindle/bullmq', suite);
}

function suite(): void {
  let redis: RedisServer;
  let r: Redis;
  let blocking: Redis;
  let a: MachineProcess;
  let b: MachineProcess;
  let remote: BullRuntime;
  let events: QueueEvents;
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    r = client(redis.url);
    blocking = client(redis.url);
    [a, b] = await Promise.all([startMachine(redis.url, 'main', 'machine-a'), startMachine(redis.url, 'main', 'machine-b')]);
    remote = bullRuntime({ connection: redis.url, queue: 'main' });
    await remote.ready();
    events = await queueEvents(redis.url, 'main');
  }, 60_000);

  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await remote?.close({ timeout: 1000 });
    await events?.close();
    await Promise.all([a?.stop(), b?.stop()]);
    r?.disconnect();
    blocking?.disconnect();
    await redis?.stop();
  }, 60_000);

  it(`runs ${STRESS ? '100,000' : '10,000'} tasks from this process on two machines, each with the right result`, async () => {
    const n = STRESS ? 100_000 : 10_000;
    const handles = [];
    for (let i = 0; i < n; i++) handles.push(remote.spawn(square, i, null, 0));
    const results = await within(Promise.all(handles), STRESS ? 600_000 : 60_000, `${n} remote tasks`);
    const pids = new Set<number>();
    results.forEach(([sq, pid], i) => {
      if (sq !== i * i) throw new Error(`task ${i} returned ${sq}`);
      pids.add(pid);
    });
    expect([...pids].sort()).toEqual([a.pid, b.pid].sort());
    expect(remote.metrics().pending).toBe(0);
  }, 600_000);

  it('runs a nested spawn on the runtime of the machine that ran the task', async () => {
    const { parent, child } = await remote.spawn(nested);
    expect([a.pid, b.pid]).toContain(parent.pid);
    expect(child.pid).toBe(parent.pid);
    expect(parent.pid).not.toBe(process.pid);
  });

  it('brings a remote panic back as a JoinError with the error’s class, message, stack, cause and fields', async () => {
    const h = remote.spawn(render, 7);
    const e = await rejectionOf(h);
    expect(e).toBeInstanceOf(RemoteJoinError);
    expect(e).toBeInstanceOf(JoinError);
    const je = e as RemoteJoinError;
    expect(je.isPanic()).toBe(true);
    expect(je.code).toBe(ErrorCode.TASK_PANICKED);
    expect(je.jobId).toBe(h.id);
    expect(je.task).toBe('test/render');
    expect(['machine-a', 'machine-b']).toContain(je.machine);
    expect(je.message).toContain('RenderError: page 7 has no layout');
    const p = je.intoPanic() as RenderError;
    expect(p).toBeInstanceOf(RenderError);
    expect(p.name).toBe('RenderError');
    expect(p.message).toBe('page 7 has no layout');
    expect(p.code).toBe('E_LAYOUT');
    expect(p.details).toEqual({ page: 7, tags: ['a', 'b'] });
    expect(p.cause).toBeInstanceOf(TypeError);
    expect((p.cause as Error).message).toBe('layout is undefined');
    expect(p.stack).toContain('tasks.js'); // the machine's worker-thread frames
  });

  it('a remote handle is a native promise: taken by Promise.resolve as it is; a failure awaited after it settled is delivered, and one never awaited is no unhandled rejection', async () => {
    const ok = remote.spawn(double, 4);
    expect(ok).toBeInstanceOf(Promise);
    expect(Promise.resolve(ok)).toBe(ok);
    expect(await Promise.all([ok, remote.spawn(double, 5)])).toEqual([8, 10]);
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown): void => void unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      const late = remote.spawn(render, 8);
      const dropped = remote.spawn(render, 9);
      await until(() => late.isFinished() && dropped.isFinished(), 20_000, 'both remote failures to settle');
      await new Promise((r) => setImmediate(r));
      const [r] = await Promise.allSettled([late]);
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(RemoteJoinError);
      expect(((r as PromiseRejectedResult).reason as RemoteJoinError).message).toContain('page 8 has no layout');
      expect(unhandled).toStrictEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('runs a task defined by its module URL under its derived name', async () => {
    await expect(remote.spawn(double, 21)).resolves.toBe(42);
  });

  it('fails a task no machine defines with a JoinError naming the task and the machine', async () => {
    const e = (await rejectionOf(remote.spawn(notOnMachines))) as RemoteJoinError;
    expect(e).toBeInstanceOf(JoinError);
    expect(e.isPanic()).toBe(true);
    expect(e.message).toMatch(/test\/not-on-machines/);
    expect(e.message).toMatch(/machine-[ab]/);
    const p = e.intoPanic() as SpindleError;
    expect(p).toBeInstanceOf(SpindleError);
    expect(p.code).toBe(ErrorCode.TASK_NOT_FOUND);
  });

  it('throws a TypeError at spawn for what cannot be sent, naming it', () => {
    const bad: [string, () => unknown][] = [
      ['a function', () => remote.spawn(square, 1, (() => 1) as never, 0)],
      ['a class instance', () => remote.spawn(square, 1, new (class Point {})() as never, 0)],
      ['a SharedArrayBuffer', () => remote.spawn(square, 1, { buf: new SharedArrayBuffer(8) } as never, 0)],
      ['a shared handle', () => remote.spawn(square, 1, Arc.new(1) as never, 0)],
    ];
    for (const [what, f] of bad) {
      let err: unknown;
      try {
        f();
      } catch (e) {
        err = e;
      }
      expect(err, what).toBeInstanceOf(TypeError);
      expect((err as Error).message, what).toMatch(/argument 2/);
      expect((err as { code?: string }).code, what).toBe(ErrorCode.NOT_SENDABLE);
    }
    expect(() => remote.spawn((x: number) => x, 1)).toThrow(/no portable name/);
    expect(() => remote.spawnWith({ jobId: 'x' } as never, square, 1, null, 0)).toThrow(/unknown or unsupported option 'jobId'/);
    expect(remote.metrics().pending).toBe(0);
  });

  it('passes BullMQ job options through (attempts and backoff retry a failing task)', async () => {
    const key = `flaky:${Date.now()}`;
    const h = remote.spawnWith({ attempts: 2, backoff: { type: 'fixed', delay: 10 }, priority: 5 }, flaky, key);
    await expect(h).resolves.toBe(2);
    expect(await r.get(key)).toBe('2');
  });

  it('aborts a waiting job: its handle rejects as cancelled and the job never runs', async () => {
    const q = 'parked';
    const ev = await queueEvents(redis.url, q);
    cleanups.push(() => ev.close());
    const parked = bullRuntime({ connection: redis.url, queue: q });
    cleanups.push(() => parked.close({ timeout: 1000 }));
    await parked.ready();
    const key = `parked:${Date.now()}`;

    // Aborted before its job was added: never added.
    const early = parked.spawn(mark, `${key}:early`);
    early.abort();
    expect(((await rejectionOf(early)) as JoinError).isCancelled()).toBe(true);

    // Waiting in the queue (no machine serves it yet), then aborted: removed.
    const waiting = parked.spawn(mark, `${key}:waiting`);
    await nextEvent(ev, 'waiting', waiting.id, 10_000);
    const removedWaiting = nextEvent(ev, 'removed', waiting.id, 10_000);
    waiting.abort();
    const we = (await rejectionOf(waiting)) as RemoteJoinError;
    expect(we.isCancelled()).toBe(true);
    expect(we.jobId).toBe(waiting.id);
    await removedWaiting;

    // Delayed, then aborted: removed too.
    const delayed = parked.spawnWith({ delay: 60_000 }, mark, `${key}:delayed`);
    await nextEvent(ev, 'delayed', delayed.id, 10_000);
    const removedDelayed = nextEvent(ev, 'removed', delayed.id, 10_000);
    delayed.abort();
    expect(((await rejectionOf(delayed)) as JoinError).isCancelled()).toBe(true);
    await removedDelayed;

    // Now a machine (in this process) serves the queue: a task spawned after runs, the aborted ones never do.
    process.env['SPINDLE_TEST_REDIS'] = redis.url; // for the tasks, on this runtime's workers
    await using rt = new Runtime({ workers: 2 });
    const m = await serveQueue({ connection: redis.url, queue: q, runtime: rt, name: 'in-process' });
    try {
      await expect(parked.spawn(mark, `${key}:after`)).resolves.toBe('marked');
      expect(await r.mget(`${key}:early`, `${key}:waiting`, `${key}:delayed`, `${key}:after`)).toEqual([null, null, null, '1']);
      expect(await new Queue(q, { connection: { url: redis.url } }).getJobCounts('wait', 'delayed', 'active')).toEqual({ wait: 0, delayed: 0, active: 0 });
      expect(m.metrics()).toMatchObject({ name: 'in-process', concurrency: 8, taken: 1, completed: 1, running: 0, failed: 0 });
    } finally {
      await m.close();
    }
  });

  it('aborts a running job: the task’s AbortSignal fires on its machine and the job is not retried', async () => {
    const key = `running:${Date.now()}`;
    const h = remote.spawnWith({ attempts: 3 }, waitForAbort, key);
    const failed = nextEvent(events, 'failed', h.id, 20_000);
    expect(await blocking.blpop(key, 10)).toEqual([key, 'started']);
    h.abort();
    const e = (await rejectionOf(h)) as RemoteJoinError;
    expect(e.isCancelled()).toBe(true);
    expect(await blocking.blpop(key, 10)).toEqual([key, 'aborted']);
    expect((await failed).failedReason).toMatch(/^cancelled: job .* was aborted by its producer while it ran on machine-[ab]/);
    expect(await r.get(`${key}:runs`)).toBe('1');
  });

  it('fails a job written by an incompatible version with a clear error', async () => {
    const q = new Queue('main', { connection: { url: redis.url } });
    try {
      const newer = await q.add('test/square', { v: 99, t: 'test/square', a: '' });
      const failedNewer = nextEvent(events, 'failed', newer.id!, 10_000);
      const foreign = await q.add('whatever', { hello: 'world' });
      const failedForeign = nextEvent(events, 'failed', foreign.id!, 10_000);
      expect((await failedNewer).failedReason).toMatch(/cannot be read by machine machine-[ab]: it was written in spindle\/bullmq wire format 99, and this machine reads format 1/);
      expect((await failedForeign).failedReason).toMatch(/has no spindle\/bullmq wire format version/);
    } finally {
      await q.close();
    }
  });

  it('says clearly when Redis cannot be reached at start, and its handles reject', async () => {
    const port = await freePort();
    const url = `redis://127.0.0.1:${port}`;
    const p = bullRuntime({ connection: url, queue: 'nowhere', redisTimeout: 300 });
    try {
      const e = (await rejectionOf(p.ready())) as SpindleError;
      expect(e.code).toBe(ErrorCode.REDIS_UNAVAILABLE);
      expect(e.message).toContain(`cannot reach Redis at ${url} within 300 ms`);
      const h = p.spawn(square, 1, null, 0);
      expect(((await rejectionOf(h)) as SpindleError).code).toBe(ErrorCode.REDIS_UNAVAILABLE);
    } finally {
      await within(p.close({ timeout: 0 }), 5000, 'close() of a producer without Redis');
    }
    await using rt = new Runtime({ workers: 1 });
    const me = (await rejectionOf(serveQueue({ connection: url, queue: 'nowhere', runtime: rt, redisTimeout: 300 }))) as SpindleError;
    expect(me.code).toBe(ErrorCode.REDIS_UNAVAILABLE);
    expect(me.message).toContain(`cannot reach Redis at ${url}`);
  });

  it('rejects waiting handles (never hangs) when Redis goes away mid-run, and sends again once it is back', async () => {
    const r2 = await startRedis();
    const p = bullRuntime({ connection: r2.url, queue: 'gone', redisTimeout: 500 });
    try {
      await p.ready();
      const ev = await queueEvents(r2.url, 'gone');
      const h = p.spawn(mark, 'never'); // no machine serves 'gone': it waits
      await nextEvent(ev, 'waiting', h.id, 10_000);
      void ev.close().catch(() => {});
      await r2.kill();
      const e = (await within(rejectionOf(h), 15_000, 'the handle to reject after Redis went away')) as SpindleError;
      expect(e.code).toBe(ErrorCode.REDIS_UNAVAILABLE);
      expect(e.message).toMatch(/lost Redis at redis:\/\/127\.0\.0\.1:\d+ for more than 500 ms/);
      const late = p.spawn(mark, 'late');
      expect(((await rejectionOf(late)) as SpindleError).code).toBe(ErrorCode.REDIS_UNAVAILABLE);

      // Redis is back (same port, empty): the producer reconnects and sends again.
      const r3 = await startRedis(r2.port);
      cleanups.push(() => r3.kill());
      await within(p.ready(), 10_000, 'the producer to reconnect');
      const ev3 = await queueEvents(r3.url, 'gone');
      cleanups.push(() => ev3.close());
      const again = p.spawn(mark, 'again');
      await nextEvent(ev3, 'waiting', again.id, 10_000);
      expect(again.isFinished()).toBe(false);
    } finally {
      await within(p.close({ timeout: 0 }), 5000, 'close() of a producer whose Redis went away');
      await r2.kill();
    }
  }, 40_000);

  it('runs the example of docs/distributed.md (shown there verbatim) against a machine', async () => {
    const root = new URL('../../../', import.meta.url); // dist/test/bullmq → repository root
    const doc = readFileSync(new URL('docs/distributed.md', root), 'utf8');
    for (const f of ['tasks.ts', 'producer.ts']) {
      expect(doc, `docs/distributed.md does not show examples/distributed/${f} as it is`).toContain(readFileSync(new URL(`examples/distributed/${f}`, root), 'utf8').trimEnd());
    }
    const src = readFileSync(new URL('examples/distributed/producer.ts', root), 'utf8');
    const expected = src.slice(src.indexOf('// Output:') + 10).split('\n').map((l) => l.replace(/^\/\/ ?/, '')).filter((l) => l !== '').join('\n');
    const m = await startMachine(redis.url, 'reports', 'machine-example', [], fileURLToPath(new URL('dist/examples/distributed/tasks.js', root)));
    cleanups.push(() => m.stop());
    const { stdout } = await promisify(execFile)(process.execPath, [fileURLToPath(new URL('dist/examples/distributed/producer.js', root))], {
      timeout: 20_000,
      env: { ...process.env, REDIS_URL: redis.url },
    });
    expect(stdout.trim()).toBe(expected);
  });

  // The sweep that reads job hashes for missed events took a job still waiting to run (no
  // finishedOn/returnvalue/failedReason yet) for a job gone from Redis, and after two intervals
  // rejected its handle as lost (seen at 20,000 jobs behind a killed machine, SPINDLE_STRESS=1).
  it('does not take a job that waits long for a machine for a lost one: it runs when a machine comes', async () => {
    const p = bullRuntime({ connection: redis.url, queue: 'late', sweepInterval: 20 });
    cleanups.push(() => p.close({ timeout: 1000 }));
    const h = p.spawn(square, 7, 'late:exec', 1);
    await within(h._added, 10_000, 'the job to be added');
    // No machine serves the queue yet: let the sweep look at the waiting job many times.
    const from = p._sweeps;
    await until(() => p._sweeps >= from + 10, 20_000, 'ten sweeps over the waiting job');
    expect(h.isFinished()).toBe(false);
    const m = await startMachine(redis.url, 'late', 'machine-late');
    cleanups.push(() => m.stop());
    expect((await within(h, 20_000, 'the job to run once a machine serves the queue'))[0]).toBe(49);
  });

  /** Spawns n square tasks counting executions in `key`, runs `during` once a quarter are done, awaits all. */
  async function underLoad(p: BullRuntime, n: number, key: string, during: () => Promise<void>): Promise<{ settles: number[] }> {
    const settles = new Array<number>(n).fill(0);
    let done = 0;
    let quarter!: () => void;
    const quarterDone = new Promise<void>((resolve) => (quarter = resolve));
    const handles = [];
    for (let i = 0; i < n; i++) {
      const h = p.spawn(square, i, key, 1);
      handles.push(
        h.then(([sq]) => {
          settles[i]!++;
          if (sq !== i * i) throw new Error(`task ${i} returned ${sq}`);
          if (++done === n >> 2) quarter();
        }),
      );
    }
    await within(quarterDone, 60_000, `a quarter of ${n} tasks to complete`);
    await during();
    await within(Promise.all(handles), 120_000, `all ${n} tasks to complete`);
    return { settles };
  }

  async function executions(key: string, n: number): Promise<{ missing: number; twice: number; more: number }> {
    const h = await r.hgetall(key);
    let missing = 0;
    let twice = 0;
    let more = 0;
    for (let i = 0; i < n; i++) {
      const c = Number(h[String(i)] ?? 0);
      if (c === 0) missing++;
      else if (c === 2) twice++;
      else if (c > 2) more++;
    }
    return { missing, twice, more };
  }

  it('completes every task when a machine is killed (SIGKILL) mid-run; each handle settles exactly once', async () => {
    const n = STRESS ? 20_000 : 1_000;
    const opts = ['--lock-duration', '4000', '--stalled-interval', '1000', '--max-stalled-count', '5'];
    const [c, d] = await Promise.all([startMachine(redis.url, 'kill', 'machine-c', opts), startMachine(redis.url, 'kill', 'machine-d', opts)]);
    cleanups.push(() => d.stop());
    const p = bullRuntime({ connection: redis.url, queue: 'kill' });
    cleanups.push(() => p.close({ timeout: 1000 }));
    const key = 'kill:exec';
    const { settles } = await underLoad(p, n, key, async () => {
      expect(await c.kill()).toBe('SIGKILL');
    });
    expect(settles.every((s) => s === 1)).toBe(true);
    const x = await executions(key, n);
    // eslint-disable-next-line no-console
    console.log(`SIGKILL run: ${n} tasks, all completed; ran twice: ${x.twice}, more than twice: ${x.more} (machine-c had concurrency 8)`);
    expect(x.missing).toBe(0);
    expect(x.more).toBe(0);
    // Only the jobs active on the killed machine can run again: at most its concurrency.
    expect(x.twice).toBeLessThanOrEqual(8);
    expect(p.metrics()).toMatchObject({ pending: 0, completed: n, failed: 0 });
  }, 180_000);

  it('drains a machine gracefully under load (SIGTERM): nothing is lost and nothing runs twice', async () => {
    const n = STRESS ? 20_000 : 1_000;
    const [e, f] = await Promise.all([startMachine(redis.url, 'drain', 'machine-e'), startMachine(redis.url, 'drain', 'machine-f')]);
    cleanups.push(() => f.stop());
    const p = bullRuntime({ connection: redis.url, queue: 'drain' });
    cleanups.push(() => p.close({ timeout: 1000 }));
    const key = 'drain:exec';
    const { settles } = await underLoad(p, n, key, async () => {
      expect(await e.stop()).toBe(0);
    });
    expect(settles.every((s) => s === 1)).toBe(true);
    expect(await executions(key, n)).toEqual({ missing: 0, twice: 0, more: 0 });
    const closed = await e.lines.waitFor(/^spindle-worker: closed/, 1000, 'the drained machine’s last line');
    const [, taken, completed, failed] = /taken (\d+), completed (\d+), failed (\d+)/.exec(closed)!.map(Number);
    expect(taken).toBeGreaterThan(0);
    expect(completed).toBe(taken);
    expect(failed).toBe(0);
  }, 180_000);
}
