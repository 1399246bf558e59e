import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Arc, AtomicI32, Runtime } from '../../src/index.js';
import * as s from '../fixtures/shared-tasks.js';
import { rejectionOf } from '../helpers.js';

describe('a task owns the Arcs moved into it (dropped at its end unless moved on)', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  it('an Arc the task neither drops nor moves is dropped when the task ends', async () => {
    const a = Arc.new(new AtomicI32(0));
    expect(await rt.spawn(s.touchArc, a.clone())).toBe(1);
    expect(a.strongCount()).toBe(1);
    expect(await rt.spawn(s.touchArcLater, a.clone())).toBe(2);
    expect(a.strongCount()).toBe(1);
    a.drop();
  });

  it('...also when the task panics', async () => {
    const a = Arc.new(new AtomicI32(0));
    await rejectionOf(rt.spawn(s.panicWithArc, a.clone()));
    expect(a.strongCount()).toBe(1);
    a.drop();
  });

  it('a task aborted before it runs drops the Arcs moved into it', async () => {
    const one = new Runtime({ workers: 1 });
    try {
      const gate = new Int32Array(new SharedArrayBuffer(4));
      // Holds the only worker, so that the next task is still queued when it is aborted.
      const blocker = one.spawn((g: Int32Array) => {
        Atomics.wait(g, 0, 0);
      }, gate);
      const a = Arc.new(new AtomicI32(0));
      const h = one.spawn(s.touchArc, a.clone());
      h.abort();
      expect(((await rejectionOf(h)) as { isCancelled(): boolean }).isCancelled()).toBe(true);
      Atomics.store(gate, 0, 1);
      Atomics.notify(gate, 0);
      await blocker;
      // The worker takes the cancelled task before this one (one worker, FIFO injector) and drops its Arc then.
      expect(await one.spawn((x: number) => x, 1)).toBe(1);
      expect(a.get().load()).toBe(0); // it never ran
      expect(a.strongCount()).toBe(1);
      a.drop();
    } finally {
      await one.shutdown();
    }
  });

  it('an Arc the task returns is moved back to the awaiter, not dropped', async () => {
    const a = Arc.new(new AtomicI32(0));
    const back = await rt.spawn(s.returnArc, a.clone());
    expect(a.strongCount()).toBe(2);
    expect(back.get().load()).toBe(1);
    back.drop();
    expect(a.strongCount()).toBe(1);
    a.drop();
  });

  it('an Arc moved on to a nested spawn is that task\'s; an Arc handed back by a nested task is live in its parent', async () => {
    const a = Arc.new(new AtomicI32(0));
    // passArcOn moves its first Arc into touchArc and reports the count after that one ended.
    expect(await rt.spawn(s.passArcOn, a.clone(), a.clone())).toBe(2); // main's + keep's
    expect(a.strongCount()).toBe(1);
    expect(await rt.spawn(s.roundTripArc, a.clone())).toBe(2); // main's + the one handed back
    expect(a.strongCount()).toBe(1);
    a.drop();
  });
});
