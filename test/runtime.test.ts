import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinError, Runtime, spawn } from '../src/index.js';
import { kInternal } from '../src/runtime.js';
import * as t from './fixtures/tasks.js';
import { rejectionOf, thrownBy, within } from './helpers.js';

describe('spawn and join', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  it('runs a module task and infers its result', async () => {
    const h = rt.spawn(t.add, 20, 22);
    expect(typeof h.id).toBe('number');
    const v: number = await h;
    expect(v).toBe(42);
    expect(h.isFinished()).toBe(true);
  });

  it('runs an inline function shipped as source', async () => {
    expect(await rt.spawn((a: number, b: string) => `${b}${a * 2}`, 21, 'x')).toBe('x42');
  });

  it('runs tasks on worker threads, not the main thread', async () => {
    const ids = await Promise.all(Array.from({ length: 8 }, () => rt.spawn(t.threadId)));
    for (const id of ids) expect(id).toBeGreaterThan(0);
  });

  it('gives every handle a distinct id', () => {
    const hs = Array.from({ length: 100 }, (_, i) => rt.spawn(t.inc, i));
    expect(new Set(hs.map((h) => h.id)).size).toBe(100);
    return Promise.all(hs);
  });

  it('settles 100,000 tiny tasks, each exactly once, with the right results', async () => {
    const n = Number(process.env.SPINDLE_STRESS ? 1_000_000 : 100_000);
    const before = rt.metrics();
    const hs = new Array(n);
    for (let i = 0; i < n; i++) hs[i] = rt.spawn(t.inc, i);
    const out = await within(Promise.all(hs), 60_000, `${n} tiny tasks`);
    for (let i = 0; i < n; i++) if (out[i] !== i + 1) expect.fail(`task ${i} returned ${out[i]}`);
    const after = rt.metrics();
    const ran = (m: typeof after) => m.workers.reduce((s, w) => s + w.tasksRun, 0);
    expect(after.completed - before.completed).toBe(n);
    expect(ran(after) - ran(before)).toBe(n); // none ran twice
    expect(after.injectorDepth).toBe(0);
    expect(after.overflowDepth).toBe(0);
  });

  it('carries the common value types both ways', async () => {
    const values: unknown[] = [
      0, -0, 1.5, -7, 2 ** 40, NaN, Infinity, 'héllo', '日本語', '', true, false, null, undefined,
      [1, [2, [3]], { a: 'b' }], { nested: { deep: [1, 'two', null] }, empty: {} },
      new Uint8Array([1, 2, 3]), new Float64Array([1.5, -2]), Buffer.from('buf'),
      new Date(1_700_000_000_000), new Map<unknown, unknown>([['k', 1], [2, { v: true }]]), new Set([1, 'a']),
      123n, /re+gex/gi, 'x'.repeat(10_000), Array.from({ length: 1000 }, (_, i) => i * 0.5),
    ];
    for (const v of values) expect(await rt.spawn(t.roundTrip, v)).toStrictEqual(v);
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    const back = (await rt.spawn(t.roundTrip, cyclic)) as Record<string, unknown>;
    expect(back.self).toBe(back);
    // An own key named __proto__ (JSON.parse of untrusted input) crosses as an own key, both ways.
    const parsed = JSON.parse('{"__proto__": {"isAdmin": true}, "user": "x"}') as Record<string, unknown>;
    const there = (await rt.spawn(t.roundTrip, parsed)) as Record<string, unknown>;
    expect(Object.getPrototypeOf(there)).toBe(Object.prototype);
    expect(there['isAdmin']).toBeUndefined();
    expect(Object.keys(there)).toEqual(['__proto__', 'user']);
  });

  it('passes a SharedArrayBuffer view as the same memory, both ways', async () => {
    const a = new Int32Array(new SharedArrayBuffer(16));
    await Promise.all(Array.from({ length: 50 }, () => rt.spawn(t.bump, a, 1)));
    expect(a[1]).toBe(50);
    const made = await rt.spawn(t.makeShared, 4);
    expect(made.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(made[0]).toBe(7);
    await rt.spawn(t.bump, made, 0);
    expect(made[0]).toBe(8); // the worker wrote into the buffer it created, which we now hold
  });
});

describe.each([1, 2, 4])('fork-join with %i worker(s)', (workers) => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers });
  });
  afterAll(() => rt.shutdown());

  it('computes fib with nested spawns', async () => {
    expect(await within(rt.spawn(t.fib, 25, 10), 30_000, 'fib(25)')).toBe(t.fibSeq(25));
  });

  it('sorts with a parallel merge sort', async () => {
    let seed = workers;
    const xs = Array.from({ length: 20_000 }, () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % 100_000));
    const sorted = await within(rt.spawn(t.msort, xs, 500), 30_000, 'merge sort');
    expect(sorted).toStrictEqual(xs.slice().sort((a, b) => a - b));
  });
});

describe('payloads of one int (kept in the slot header)', () => {
  it('an int argument and an int result at every edge come back exact, beside payloads that are not one int, through reused slots', async () => {
    // 4 slots: every slot carries small, inline and heap payloads in turn.
    const rt = new Runtime({ workers: 2, [kInternal]: { slots: 4, dequeCapacity: 4 } } as never);
    try {
      const values: unknown[] = [0, 1, -1, 255, 256, -256, 2 ** 31 - 1, -(2 ** 31), 2 ** 31, -0, 1.5, NaN, 'abcd', null, [7], 'x'.repeat(200)];
      for (let round = 0; round < 20; round++) {
        const got = await within(Promise.all(values.map((v) => rt.spawn(t.echo, v))), 10_000, `round ${round}`);
        for (let i = 0; i < values.length; i++) {
          if (typeof values[i] === 'object' && values[i] !== null) expect(got[i]).toEqual(values[i]);
          else expect(Object.is(got[i], values[i]), `${String(values[i])} came back as ${String(got[i])}`).toBe(true);
        }
        // Two int arguments (not one) and an int result; and an int result of a string argument.
        expect(await rt.spawn(t.add, 2 ** 31 - 2, 1)).toBe(2 ** 31 - 1);
        expect(await rt.spawn(t.add, -(2 ** 31), -1)).toBe(-(2 ** 31) - 1);
      }
    } finally {
      await rt.shutdown();
    }
  });
});

describe('scheduling', () => {
  it('steals: children of one task spread over more than one other worker', async () => {
    const rt = new Runtime({ workers: 4 });
    try {
      // Each meet() blocks its worker until all three run at once, so the
      // spawner's worker keeps one and two others must have stolen theirs.
      const count = new Int32Array(new SharedArrayBuffer(4));
      expect(await within(rt.spawn(t.gather, count, 3), 20_000, 'three children on three workers')).toStrictEqual([1, 2, 3]);
      const m = rt.metrics();
      const thieves = m.workers.filter((w) => w.steals > 0).length;
      expect(thieves, JSON.stringify(m.workers)).toBeGreaterThan(1);
      expect(m.workers.reduce((s, w) => s + w.stolenFrom, 0)).toBe(m.workers.reduce((s, w) => s + w.steals, 0));
    } finally {
      await rt.shutdown();
    }
  });

  it('a skewed load (one task spawns 200) completes, with idle workers stealing', async () => {
    const rt = new Runtime({ workers: 4 });
    try {
      expect(await rt.spawn(t.fanOut, 200, 2)).toBe((199 * 200) / 2);
      expect(rt.metrics().workers.reduce((s, w) => s + w.steals, 0)).toBeGreaterThan(0);
    } finally {
      await rt.shutdown();
    }
  });

  it('interleaves async tasks within one worker', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      const flag = new Int32Array(new SharedArrayBuffer(4));
      const waiter = rt.spawn(t.waitFlag, flag, 100_000);
      const setter = rt.spawn(t.setFlag, flag);
      await setter;
      // The waiter can only finish if the one worker ran the setter while the waiter was suspended.
      expect(await within(waiter, 10_000, 'the waiting task')).toBeGreaterThanOrEqual(0);
    } finally {
      await rt.shutdown();
    }
  });

  it('runs more workers than cores', async () => {
    const rt = new Runtime({ workers: 8 });
    try {
      const out = await Promise.all(Array.from({ length: 64 }, (_, i) => rt.spawn(t.busy, 1, i)));
      expect(out).toStrictEqual(Array.from({ length: 64 }, (_, i) => i));
    } finally {
      await rt.shutdown();
    }
  });

  it('run() resolves after main and every detached task have finished', async () => {
    const rt = new Runtime({ workers: 2 });
    const flag = new Int32Array(new SharedArrayBuffer(4));
    const v = await rt.run(async (r) => {
      r.spawn(t.sleepThen, 50, 'detached'); // handle dropped
      r.spawn(t.bump, flag, 0);
      return 'main';
    });
    expect(v).toBe('main');
    expect(rt.metrics().live).toBe(0);
    expect(rt.metrics().completed).toBe(rt.metrics().spawned);
    await rt.shutdown();
  });

  it('a loop of await spawn() reuses the slots it frees instead of walking all of them', async () => {
    // Through the free ring alone (first in, first out) each of these tasks took
    // another of the 32,768 slots: cold memory, and a page touched for the first
    // time every 128 tasks (engine.ts, #spare).
    const rt = new Runtime({ workers: 2 });
    try {
      // (-1: the task was done already, its outcome taken by spawn's own drain.)
      const used = new Set<number>();
      let seen = 0;
      for (let i = 0; i < 2000; i++) {
        const h = rt.spawn(t.add, i, 1);
        if (h._slot >= 0) seen++;
        used.add(h._slot);
        expect(await h).toBe(i + 1);
      }
      used.delete(-1);
      expect(seen).toBeGreaterThan(100);
      expect(used.size).toBeLessThanOrEqual(2);
      // A burst larger than the spares still gets every task through, and the loop after it reuses again.
      expect(await Promise.all(Array.from({ length: 5000 }, (_, i) => rt.spawn(t.add, i, 1)))).toStrictEqual(Array.from({ length: 5000 }, (_, i) => i + 1));
      used.clear();
      for (let i = 0; i < 1000; i++) {
        const h = rt.spawn(t.add, i, 2);
        used.add(h._slot);
        await h;
      }
      used.delete(-1);
      expect(used.size).toBeLessThanOrEqual(2);
    } finally {
      await rt.shutdown();
    }
  });

  it('top-level spawn() uses the default runtime', async () => {
    expect(await spawn(t.add, 1, 2)).toBe(3);
    await Runtime.default().shutdown();
  });
});

describe('panics', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  it('rejects with a JoinError that gives back the error with its class, fields, cause and stack', async () => {
    const e = await rejectionOf(rt.spawn(t.fancyPanic, 'range'));
    expect(e).toBeInstanceOf(JoinError);
    const je = e as JoinError;
    expect(je.isPanic()).toBe(true);
    expect(je.isCancelled()).toBe(false);
    expect(je.message).toContain('out of range');
    const p = je.intoPanic() as RangeError & { code: string; extra: unknown };
    expect(p).toBeInstanceOf(RangeError);
    expect(p.message).toBe('out of range');
    expect(p.code).toBe('E_RANGE');
    expect(p.extra).toStrictEqual({ limit: 10, seen: [11, 12] });
    expect((p.cause as Error).message).toBe('root cause');
    expect(p.stack).toContain('fixtures/tasks.js'); // the worker's frames
    const r = je.tryIntoPanic();
    expect(r.ok && r.value).toBe(p);
    // The JoinError's own stack would be the runtime's frames: it has none (its cause has the task's).
    expect(je.stack).toBe(`JoinError: ${je.message}`);
    expect(je.cause).toBe(p);
  });

  it('a cancelled task\'s JoinError has no stack frames of its own, and aborting leaves Error.stackTraceLimit as it was', async () => {
    const limit = Error.stackTraceLimit;
    const hs = Array.from({ length: 50 }, () => rt.spawn(t.sleepThen, 50, 'late'));
    for (const h of hs) h.abort();
    for (const h of hs) {
      const e = (await rejectionOf(h)) as JoinError;
      expect(e.isCancelled()).toBe(true);
      expect(e.stack).toBe(`JoinError: task ${h.id} was cancelled`);
    }
    expect(Error.stackTraceLimit).toBe(limit);
  });

  it('keeps non-Error throws and AggregateErrors', async () => {
    const n = (await rejectionOf(rt.spawn(t.fancyPanic, 'number'))) as JoinError;
    expect(n.intoPanic()).toBe(42);
    const a = ((await rejectionOf(rt.spawn(t.fancyPanic, 'aggregate'))) as JoinError).intoPanic() as AggregateError;
    expect(a).toBeInstanceOf(AggregateError);
    expect(a.errors.map((x: Error) => `${x.name}:${x.message}`)).toStrictEqual(['Error:one', 'TypeError:two']);
  });

  it('turns a rejected promise into a panic, and the worker survives', async () => {
    const e = (await rejectionOf(rt.spawn(t.rejectLater, 'nope'))) as JoinError;
    expect(e.intoPanic()).toBeInstanceOf(TypeError);
    expect(await rt.spawn(t.add, 2, 2)).toBe(4);
  });

  it('a detached panic is no unhandled rejection', async () => {
    const seen: unknown[] = [];
    const onUnhandled = (r: unknown) => seen.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      await rt.run((r) => {
        r.spawn(t.boom, 'detached');
      });
      await new Promise((r) => setImmediate(r));
      expect(seen).toStrictEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('abort() cancels a queued task: it never runs', async () => {
    const one = new Runtime({ workers: 1 });
    try {
      const flag = new Int32Array(new SharedArrayBuffer(8));
      const blocker = one.spawn(t.busyFlag, flag, 100);
      // Once the blocker runs, the one worker cannot start the victim before we abort it.
      const started = Atomics.waitAsync(flag, 0, 0, 10_000);
      if (started.async) await started.value;
      expect(Atomics.load(flag, 0)).toBe(1);
      const victim = one.spawn(t.bump, flag, 1);
      victim.abort();
      expect(victim.isFinished()).toBe(true);
      const e = (await rejectionOf(victim)) as JoinError;
      expect(e.isCancelled()).toBe(true);
      expect(() => e.intoPanic()).toThrow(/not a panic/);
      await blocker;
      await one.run(() => {});
      expect(flag[1]).toBe(0);
    } finally {
      await one.shutdown();
    }
  });
});

describe('bad input', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 1 });
  });
  afterAll(() => rt.shutdown());

  it('refuses an argument that cannot cross threads, naming it, at the spawn site', async () => {
    const net = await import('node:net');
    class Secret {
      #key = 1;
      get key() {
        return this.#key;
      }
    }
    expect(() => rt.spawn(t.echo as (v: unknown) => unknown, () => 1)).toThrow(/argument 1 is a function/);
    expect(() => rt.spawn(t.add as (...a: unknown[]) => unknown, 1, { cb: () => 1 })).toThrow(/argument 2 \(at \.cb\) is a function/);
    expect(() => rt.spawn(t.echo as (v: unknown) => unknown, new Secret())).toThrow(/argument 1 is an instance of Secret/);
    expect(() => rt.spawn(t.echo as (v: unknown) => unknown, new net.Socket())).toThrow(TypeError);
    expect(() => rt.spawn(t.echo as (v: unknown) => unknown, Symbol('s'))).toThrow(/symbol/);
    expect(() => rt.spawn(t.echo as (v: unknown) => unknown, Promise.resolve(1))).toThrow(/argument 1 is a promise, which cannot cross threads\. A pending value stays on its thread: await the promise/);
    expect(rt.metrics().spawned).toBe(0); // nothing was half-spawned
  });

  it('refuses what is not a task', () => {
    expect(() => rt.spawn(42 as never)).toThrow(/takes a task/);
    expect(() => rt.spawn(Math.max as never)).toThrow(/native or bound/);
  });

  it('rejects an inline function that captures a variable, explaining the rule', async () => {
    const y = 5;
    const e = (await rejectionOf(rt.spawn((x: number) => x + y, 1))) as JoinError;
    const p = e.intoPanic() as Error;
    expect(p).toBeInstanceOf(ReferenceError);
    expect(p.message).toMatch(/y is not defined/);
    expect(p.message).toMatch(/captures nothing.*Pass the value as an argument/s);
  });

  it('names the module and task when a task cannot be found', async () => {
    const { task } = await import('../src/index.js');
    const ghost = task(new URL('./fixtures/tasks.js', import.meta.url).href, 'ghost', () => 1);
    const e1 = ((await rejectionOf(rt.spawn(ghost))) as JoinError).intoPanic() as Error;
    expect(e1.message).toMatch(/fixtures\/tasks\.js defines no task named 'ghost'/);
    const missing = task('file:///nonexistent/module.js', function lost() {
      return 1;
    });
    const e2 = ((await rejectionOf(rt.spawn(missing))) as JoinError).intoPanic() as Error;
    expect(e2.message).toMatch(/cannot run task 'lost': importing file:\/\/\/nonexistent\/module\.js/);
  });

  it('rejects a result that cannot be sent back', async () => {
    const e = (await rejectionOf(rt.spawn(t.returnsFunction))) as JoinError;
    expect(e.isPanic()).toBe(true);
    expect((e.intoPanic() as Error).message).toMatch(/result cannot be sent back.*is a function/);
  });

  it('a value nested deeper than a stack: a RangeError naming the argument at spawn, a panic saying so for a result; nothing else fails', async () => {
    let deep: unknown[] = [];
    for (let i = 0; i < 1_000_000; i++) deep = [deep];
    const before = rt.metrics().spawned;
    const e = thrownBy(() => rt.spawn(t.echo as (v: unknown) => unknown, deep)) as RangeError & { code: string };
    expect(e).toBeInstanceOf(RangeError);
    expect(e.code).toBe('ERR_SPINDLE_NOT_SENDABLE');
    expect(e.message).toMatch(/^spindle: argument 1 is nested too deeply to cross threads \(Maximum call stack size exceeded\)/);
    expect(rt.metrics().spawned).toBe(before); // nothing was half-spawned
    const r = (await rejectionOf(rt.spawn(t.nested, 1_000_000))) as JoinError;
    expect(r.isPanic()).toBe(true);
    expect((r.intoPanic() as Error).message).toMatch(/result cannot be sent back.*the result is nested too deeply to cross threads/);
    expect(await rt.spawn(t.add, 2, 3)).toBe(5);
  });

  it('bad input is a TypeError or RangeError with the code ERR_SPINDLE_INVALID_ARG; a call outside its context says so with ERR_SPINDLE_WRONG_CONTEXT', async () => {
    const { currentTask, joinAll } = await import('../src/index.js');
    const codeOf = (f: () => unknown): unknown => (thrownBy(f) as { code?: unknown }).code;
    expect(codeOf(() => new Runtime({ workers: 2.5 }))).toBe('ERR_SPINDLE_INVALID_ARG');
    expect(codeOf(() => new Runtime({ wrkers: 2 } as never))).toBe('ERR_SPINDLE_INVALID_ARG');
    expect(codeOf(() => rt.spawnWith({ timeout: -1 }, t.add, 1, 2))).toBe('ERR_SPINDLE_INVALID_ARG');
    expect(codeOf(() => rt.map(t.add as never, [], { chunk: 0 }))).toBe('ERR_SPINDLE_INVALID_ARG');
    expect(codeOf(() => joinAll([Promise.resolve(1)] as never))).toBe('ERR_SPINDLE_INVALID_ARG');
    const run = (await rejectionOf(rt.run(5 as never))) as TypeError & { code: string };
    expect(run).toBeInstanceOf(TypeError);
    expect(run.code).toBe('ERR_SPINDLE_INVALID_ARG');
    expect(run.message).toMatch(/Runtime\.run\(main\) takes a function/);
    expect(codeOf(() => currentTask())).toBe('ERR_SPINDLE_WRONG_CONTEXT');
    // Short: an abort only abandons a task that already runs, and shutdown (afterAll) waits for it.
    const h = rt.spawn(t.sleepThen, 20, 'late');
    h.abort();
    const cancelled = (await rejectionOf(h)) as JoinError;
    expect(cancelled.isCancelled()).toBe(true);
    const misuse = thrownBy(() => cancelled.intoPanic()) as Error & { code?: string };
    expect(misuse.code).toBe('ERR_SPINDLE_WRONG_CONTEXT');
    expect(misuse.message).toMatch(/not a panic .*check isPanic\(\) first, or use tryIntoPanic\(\)/);
  });

  it('validates options', () => {
    for (const workers of [0, -1, 1.5, 1e6, NaN]) expect(() => new Runtime({ workers })).toThrow(RangeError);
    expect(() => new Runtime({ workers: 0 })).toThrow(/workers must be an integer from 1 to 1024, got 0/);
    expect(() => new Runtime({ queueCapacity: 1000 })).toThrow(/power of two/);
    expect(() => new Runtime({ wrokers: 2 } as never)).toThrow(/unknown Runtime option 'wrokers'/);
  });

  it('refuses to spawn after shutdown', async () => {
    const r = new Runtime({ workers: 1 });
    await r.shutdown();
    expect(() => r.spawn(t.add, 1, 2)).toThrow(/after shutdown/);
  });

  it('task() checks its arguments', async () => {
    const { task } = await import('../src/index.js');
    expect(() => task('not a url', () => 1)).toThrow(/import\.meta\.url/);
    expect(() => task(import.meta.url, '', () => 1)).toThrow(/empty name/);
    // 'relative/path.js' would be a registry name (task('reports/render', fn)); one that cannot be is refused.
    expect(() => task('./relative/path.js', () => 1)).toThrow(/__filename/);
  });

  it('task() names do not depend on fn.name (minified bundles): ordinals, ~2 for a repeated name', async () => {
    const { task } = await import('../src/index.js');
    const url = 'file:///virtual/minified.js';
    const key = (f: unknown): string => (f as Record<symbol, string>)[Symbol.for('spindle.taskKey')]!;
    const anon1 = task(url, (x: number) => x + 1);
    const anon2 = task(url, (x: number) => x + 2);
    expect([key(anon1), key(anon2)]).toEqual([`m${url}\n#0`, `m${url}\n#1`]);
    const a1 = task(url, function a(x: number) { return x * 2; });
    const a2 = task(url, function a(x: number) { return x * 3; });
    expect([key(a1), key(a2)]).toEqual([`m${url}\na`, `m${url}\na~2`]);
    // The same source again (the module evaluated again: vitest, HMR) takes the same name.
    const again = task(url, function a(x: number) { return x * 3; });
    expect(key(again)).toBe(`m${url}\na~2`);
    expect(() => task(url, 'b', () => 1)).not.toThrow();
    expect(() => task(url, 'b', () => 2)).toThrow(/defined twice/);
    // A CommonJS module passes __filename: an absolute path is a file URL.
    expect(key(task('/virtual/tasks.cjs', function c() {}))).toBe('mfile:///virtual/tasks.cjs\nc');
  });
});
