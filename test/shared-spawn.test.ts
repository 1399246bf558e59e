import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arc, AtomicI32, Mutex, Runtime, SharedHeap, SharedMap } from '../src/index.js';
import * as s from './fixtures/shared-tasks.js';
import { add } from './fixtures/tasks.js';

describe('shared state through spawn', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 4 });
  });
  afterAll(() => rt.shutdown());

  it('a Mutex passed to tasks on four workers is the same lock: no update is lost', async () => {
    const m = new Mutex(0);
    const n = Number(process.env.SPINDLE_STRESS ? 100_000 : 10_000);
    await Promise.all([0, 1, 2, 3].map(() => rt.spawn(s.lockedIncrements, m, n)));
    const g = await m.lock();
    expect(g.value).toBe(4 * n);
    g.unlock();
    m.free();
  });

  it('passing an Arc to spawn moves it; clone() first to keep one', async () => {
    const a = Arc.new(new AtomicI32(0));
    expect(await rt.spawn(s.bumpArc, a.clone())).toBe(1);
    expect(a.strongCount()).toBe(1); // the task dropped its clone
    expect(await rt.spawn(s.bumpArc, a)).toBe(2);
    expect(() => a.get()).toThrow(/moved.*clone/s);
  });

  it('a SharedMap filled by several tasks holds exactly what they wrote', async () => {
    const m = new SharedMap<string, number>();
    await Promise.all([0, 1, 2, 3].map((k) => rt.spawn(s.fillMap, m, k * 250, (k + 1) * 250)));
    expect(m.size).toBe(1001);
    expect(m.get('total')).toBe(1000);
    for (let i = 0; i < 1000; i++) if (m.get(`k${i}`) !== i * i) expect.fail(`k${i} is ${m.get(`k${i}`)}`);
    m.free();
  });

  it('refuses a handle from a standalone heap at the spawn site', () => {
    const own = new SharedHeap({ initialBytes: 1 << 16 });
    const m = new Mutex(0, { heap: own });
    expect(() => rt.spawn(s.lockedIncrements, m, 1)).toThrow(/standalone SharedHeap/);
    expect(rt.metrics().spawned).toBeGreaterThan(0);
  });

  it('a failed spawn does not move the Arc it carried', () => {
    const a = Arc.new(new AtomicI32(5));
    expect(() => rt.spawn(s.bumpArc as never, a, () => 1)).toThrow(TypeError);
    expect(a.get().load()).toBe(5);
    a.drop();
    return rt.spawn(add, 1, 1);
  });
});
