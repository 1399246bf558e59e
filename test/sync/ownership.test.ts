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
