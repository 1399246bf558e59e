import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinError, Runtime, map } from '../src/index.js';
import { autoChunk } from '../src/task/map.js';
import * as m from './fixtures/map-tasks.js';
import { STRESS, rejectionOf, within } from './helpers.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
const tasksRun = (rt: Runtime): number[] => rt.metrics().workers.map((w) => w.tasksRun);
const total = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

/** Every result equals 2 × its index (checked without building a second array of n items). */
function expectDoubled(out: readonly number[], n: number): void {
  expect(out.length).toBe(n);
  for (let i = 0; i < n; i++) if (out[i] !== 2 * i) expect.fail(`result ${i} is ${out[i]}, expected ${2 * i}`);
}

/** Waits until nothing is live on `rt`, then checks that every task it spawned has settled. */
async function expectQuiet(rt: Runtime): Promise<void> {
  await within(rt.run(() => undefined), 20_000, 'the runtime to be quiet');
  const after = rt.metrics();
  expect(after.completed).toBe(after.spawned);
  expect(after.live).toBe(0);
  expect(after.injectorDepth).toBe(0);
  expect(after.overflowDepth).toBe(0);
  expect(total(after.workers.map((w) => w.localDepth))).toBe(0);
}

// Compile-time checks (never called): the task's parameter checks the items, the result is inferred.
export async function mapTypes(rt: Runtime): Promise<void> {
  const a: number[] = await rt.map(m.double, [1, 2, 3]);
  const b: string[] = await map((s: string) => s.toUpperCase(), new Set(['x']));
  const c: number[] = await rt.map(m.maybeAsync, new Int32Array(4)); // Promise<number> | number → number
  // @ts-expect-error: strings are not numbers
  await rt.map(m.double, ['1', '2']);
  // @ts-expect-error: the result is number[], not string[]
  const d: string[] = await rt.map(m.double, [1]);
  // @ts-expect-error: chunk is a number
  await rt.map(m.double, [1], { chunk: '10' });
  void [a, b, c, d];
}

describe.each([1, 2, 3])('map() on %i worker(s)', (workers) => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers });
  });
  afterAll(() => rt.shutdown());

  it('returns the results in input order (automatic chunks)', async () => {
    const n = STRESS ? 1_000_000 : 100_000;
    const out = await within(rt.map(m.double, range(n)), 30_000, `map over ${n} items`);
    expectDoubled(out, n);
  });

  it('keeps the order with chunks of 1, of 7, and larger than the input', async () => {
    expectDoubled(await rt.map(m.double, range(2_000), { chunk: 1 }), 2_000);
    expectDoubled(await rt.map(m.double, range(10_001), { chunk: 7 }), 10_001);
    expectDoubled(await rt.map(m.double, range(500), { chunk: 1_000_000 }), 500);
  });

  it('runs inline functions, typed arrays, iterables and array-likes', async () => {
    expect(await rt.map((x: number) => x * 3, [1, 2, 3])).toStrictEqual([3, 6, 9]);
    expect(await rt.map(m.double, new Float64Array([0.5, 1.5, 2.5]))).toStrictEqual([1, 3, 5]);
    const shared = new Int32Array(new SharedArrayBuffer(4 * 3000)).map((_, i) => i);
    expectDoubled(await rt.map(m.double, shared, { chunk: 100 }), 3000);
    expect(await rt.map(m.double, new Set([5, 6]))).toStrictEqual([10, 12]);
    expect(await rt.map(m.double, (function* () { yield 1; yield 2; })())).toStrictEqual([2, 4]);
    expect(await rt.map(m.double, { length: 2, 0: 4, 1: 5 })).toStrictEqual([8, 10]);
    expect(await rt.map((s: string) => s.charCodeAt(0), 'ab')).toStrictEqual([97, 98]);
  });

  it('awaits the items whose task returned a promise', async () => {
    const out = await rt.map(m.maybeAsync, range(5_000), { chunk: 300 });
    expect(out).toStrictEqual(range(5_000).map((x) => x + 1));
  });
});

describe('map() chunking', () => {
  it('cuts an input into more than one chunk, and the chunks run on more than one worker', async () => {
    const rt = new Runtime({ workers: 2 });
    try {
      const n = 100_000;
      const before = tasksRun(rt);
      const count = new Int32Array(new SharedArrayBuffer(4));
      // The first and the last item must run at once: their chunks cannot both run on one worker.
      const items: m.MeetItem[] = range(n).map((i) => ({ i, meet: i === 0 || i === n - 1, count, k: 2 }));
      const out = await within(rt.map(m.meetItem, items), 20_000, 'two chunks on two workers');
      expect(out).toStrictEqual(range(n));
      const ran = tasksRun(rt).map((r, w) => r - before[w]!);
      expect(total(ran)).toBe(Math.ceil(n / autoChunk(n, 2))); // one task per chunk
      expect(total(ran)).toBeGreaterThan(1);
      expect(ran.filter((r) => r > 0).length, JSON.stringify(ran)).toBe(2);
    } finally {
      await rt.shutdown();
    }
  });

  it('sizes chunks by the rule in the docs', () => {
    expect(autoChunk(1, 2)).toBe(1);
    expect(autoChunk(100, 2)).toBe(50); // short: one chunk per worker
    expect(autoChunk(1_000, 2)).toBe(256); // at least 256 items
    expect(autoChunk(100_000, 2)).toBe(6_250); // 8 chunks per worker
    expect(autoChunk(1_000_000, 2)).toBe(8_192); // at most 8192
    expect(autoChunk(1_000_000, 200)).toBe(625);
  });

  it('spawns nothing for an empty input', async () => {
    const rt = new Runtime({ workers: 1 });
    try {
      expect(await rt.map(m.double, [])).toStrictEqual([]);
      expect(await rt.map(m.double, new Float64Array(0))).toStrictEqual([]);
      expect(rt.metrics().spawned).toBe(0);
    } finally {
      await rt.shutdown();
    }
  });
});

describe('map() failures and cancellation', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  it('an item that throws rejects the map with a panic naming its index; the other chunks are aborted', async () => {
    const xs = range(20_000);
    xs[7_777] = -1;
    const e = await rejectionOf(rt.map(m.failNegative, xs, { chunk: 100 }));
    expect(e).toBeInstanceOf(JoinError);
    const je = e as JoinError;
    expect(je.isPanic()).toBe(true);
    expect(je.index).toBe(7_777);
    expect(je.message).toMatch(/map\(\) item 7777: RangeError: negative: -1/);
    const cause = je.intoPanic() as Error;
    expect(cause).toBeInstanceOf(RangeError);
    expect(cause.message).toBe('negative: -1');
    expect(Object.keys(cause)).toStrictEqual([]); // what the task threw, nothing added
    await expectQuiet(rt);
  });

  it('an item whose promise rejects fails the map the same way', async () => {
    const xs = range(3_000);
    xs[2_001] = -5;
    const je = (await rejectionOf(rt.map(m.maybeAsync, xs, { chunk: 250 }))) as JoinError;
    expect(je.isPanic()).toBe(true);
    expect(je.index).toBe(2_001);
    expect((je.intoPanic() as Error).message).toBe('async negative: -5');
    await expectQuiet(rt);
  });

  it('an inline task that reads a variable of its caller is explained', async () => {
    const factor = 3;
    const je = (await rejectionOf(rt.map((x: number) => x * factor, [1, 2], { chunk: 10 }))) as JoinError;
    expect(je.index).toBe(0);
    expect(String((je.intoPanic() as Error).message)).toMatch(/captures nothing/);
  });

  it('the signal aborts the chunks not yet finished, mid-way; the map rejects cancelled and nothing is left', async () => {
    const n = 10_000;
    const at = 5_000; // the first item of its chunk of 100
    const gate = new Int32Array(new SharedArrayBuffer(12));
    const seen = new Int32Array(new SharedArrayBuffer(4 * n));
    const items: m.GatedItem[] = range(n).map((i) => ({ i, gate, seen, at }));
    const ac = new AbortController();
    const p = rt.map(m.gated, items, { chunk: 100, signal: ac.signal });
    const reached = Atomics.waitAsync(gate, 0, 0, 20_000);
    if (reached.async) await reached.value;
    expect(Atomics.load(gate, 0)).toBe(1);
    ac.abort(); // while item 5000 holds its worker
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    const e = (await rejectionOf(p)) as JoinError;
    expect(e).toBeInstanceOf(JoinError);
    expect(e.isCancelled()).toBe(true);
    expect(e.message).toMatch(/cancelled by its signal/);
    await expectQuiet(rt);
    // The gated chunk looked at its abort flag 63 items later and stopped: the rest of it never ran.
    expect(Atomics.load(seen, at + 62)).toBe(1);
    expect(Atomics.load(seen, at + 63)).toBe(0);
    expect(Atomics.load(seen, at + 99)).toBe(0);
    expect(Atomics.load(gate, 2)).toBeLessThan(n);
  });

  it('a signal aborted before the call rejects at once and spawns nothing', async () => {
    const before = rt.metrics().spawned;
    const e = (await rejectionOf(rt.map(m.double, [1, 2, 3], { signal: AbortSignal.abort() }))) as JoinError;
    expect(e.isCancelled()).toBe(true);
    expect(rt.metrics().spawned).toBe(before);
  });

  it('an item that cannot cross threads is a TypeError at the call naming its index; nothing is left running', () => {
    const items: unknown[] = range(1_000);
    items[703] = { cb: () => {} };
    expect(() => rt.map(m.double, items as number[], { chunk: 100 })).toThrow(/^spindle: map\(\) item 703 \(at \.cb\) is a function/);
    return expectQuiet(rt);
  });

  it('bad options and inputs throw at the call, naming what is allowed', () => {
    const call = (opts: unknown, inputs: unknown = [1]) => () => rt.map(m.double, inputs as number[], opts as never);
    expect(call({ chunk: 0 })).toThrow(RangeError);
    expect(call({ chunk: 0 })).toThrow(/option chunk must be a positive integer \(items per task\), got 0/);
    expect(call({ chunk: 2.5 })).toThrow(RangeError);
    expect(call({ chunk: Infinity })).toThrow(RangeError);
    expect(call({ chunk: '10' })).toThrow(TypeError);
    expect(call({ signal: {} })).toThrow(/option signal must be an AbortSignal/);
    expect(call({ chunks: 10 })).toThrow(/unknown map\(\) option 'chunks' \(expected chunk, signal\)/);
    expect(call(null)).toThrow(TypeError);
    expect(call(undefined, 42)).toThrow(/inputs must be an array, a typed array, an array-like or an iterable, got number/);
    expect(call(undefined, null)).toThrow(TypeError);
    expect(() => rt.map(42 as never, [1])).toThrow(/map\(task, inputs\) takes a task/);
    expect(() => rt.map(Math.max, [1])).toThrow(TypeError); // native: no source to ship
  });

  it("an item that ends its worker fails the map with the worker's death, naming the chunk; the runtime goes on", async () => {
    const rt2 = new Runtime({ workers: 2, onPanic: () => {} });
    try {
      const exitAt5 = (x: number): number => {
        if (x === 5) process.exit(3);
        return x;
      };
      const je = (await rejectionOf(rt2.map(exitAt5, range(10), { chunk: 4 }))) as JoinError;
      expect(je.isPanic()).toBe(true);
      expect(je.message).toMatch(/map\(\) items 4–7/);
      expect((je.intoPanic() as { code?: string }).code).toBe('ERR_SPINDLE_WORKER_DIED');
      await expectQuiet(rt2);
      expectDoubled(await rt2.map(m.double, range(1_000)), 1_000); // a replacement worker took over
    } finally {
      await rt2.shutdown();
    }
  });

  it('map() after shutdown() throws', async () => {
    const rt2 = new Runtime({ workers: 1 });
    await rt2.shutdown();
    expect(() => rt2.map(m.double, [1])).toThrow(/after shutdown/);
  });
});

describe('map() inside a task (fork-join)', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  it('returns the results in order', async () => {
    expectDoubled(await rt.spawn(m.nestedMap, 30_000, 1_000), 30_000);
    expectDoubled(await rt.spawn(m.nestedMap, 100, 1), 100);
  });

  it('its chunks are stolen by idle workers', async () => {
    const count = new Int32Array(new SharedArrayBuffer(4));
    const before = rt.metrics().workers.reduce((s, w) => s + w.steals, 0);
    const out = await within(rt.spawn(m.nestedMeet, 4_000, 500, count), 20_000, 'a nested chunk stolen');
    expect(out).toStrictEqual(range(4_000));
    expect(rt.metrics().workers.reduce((s, w) => s + w.steals, 0)).toBeGreaterThan(before);
  });

  it('an item that cannot cross is a TypeError in the task', async () => {
    expect(await rt.spawn(m.nestedBadItem)).toMatch(/^TypeError: spindle: map\(\) item 2 is a function/);
    await expectQuiet(rt);
  });
});

describe('map() on the default runtime', () => {
  it('the free function uses the default runtime on the main thread', async () => {
    const rt = Runtime.default();
    try {
      expectDoubled(await map(m.double, range(1_000)), 1_000);
      expect(rt.metrics().spawned).toBeGreaterThan(0);
    } finally {
      await rt.shutdown();
    }
  });
});
