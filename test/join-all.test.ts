// joinAll: Promise.all for JoinHandles without a promise per handle. The same
// outcomes as Promise.all (values in order, the first JoinError), the same
// observation rule for panics (every handle counts as observed), on both sides.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JoinError, JoinHandle, Runtime, joinAll } from '../src/index.js';
import * as t from './fixtures/tasks.js';
import * as c from './fixtures/channel-tasks.js';
import { rejectionOf, STRESS, within } from './helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 3 });
});
afterAll(() => rt.shutdown());

describe('joinAll', () => {
  it('resolves with every value in input order, whatever order they finish in', async () => {
    const gate = new Int32Array(new SharedArrayBuffer(4));
    const hs = [rt.spawn(c.onTurn, gate, 3, 30), rt.spawn(c.onTurn, gate, 1, 10), rt.spawn(c.onTurn, gate, 2, 20)];
    const all = joinAll(hs);
    const byTurn = [hs[1]!, hs[2]!, hs[0]!];
    for (let turn = 1; turn <= 3; turn++) {
      Atomics.store(gate, 0, turn);
      Atomics.notify(gate, 0);
      await within(byTurn[turn - 1]!, 5000, `turn ${turn}`);
    }
    expect(await within(all, 5000, 'joinAll')).toEqual([30, 10, 20]);
  });

  it('settles many tiny tasks with the right values (the bulk case it exists for)', async () => {
    const n = STRESS ? 1_000_000 : 50_000;
    const hs = Array.from({ length: n }, (_, i) => rt.spawn(t.inc, i));
    const out = await within(joinAll(hs), 60_000, `${n} tasks`);
    expect(out.length).toBe(n);
    for (let i = 0; i < n; i++) if (out[i] !== i + 1) expect.fail(`task ${i} gave ${out[i]}`);
  });

  it('takes handles already settled, and an empty array', async () => {
    const a = rt.spawn(t.add, 1, 2);
    await a;
    const b = rt.spawn(t.add, 3, 4);
    expect(await joinAll([a, b])).toEqual([3, 7]);
    expect(await joinAll([])).toEqual([]);
  });

  it('rejects with the first JoinError, and observes every panic (none reaches onPanic)', async () => {
    const seen: JoinError[] = [];
    const one = new Runtime({ workers: 1, onPanic: (e) => seen.push(e) });
    const first = one.spawn(t.boom, 'first');
    await one.spawn(t.add, 0, 0); // one worker, first in first out: \`first\` has settled, unobserved
    const second = one.spawn(c.panicAfter, 1, 'second'); // panics after joinAll has rejected
    const control = one.spawn(t.boom, 'control'); // never observed: must be reported
    const e = (await rejectionOf(joinAll([one.spawn(t.add, 1, 1), first, second]))) as JoinError;
    expect(e).toBeInstanceOf(JoinError);
    expect(e.isPanic()).toBe(true);
    expect((e.intoPanic() as Error).message).toContain('first');
    expect(control.id).toBeGreaterThan(0);
    await within(one.shutdown(), 10_000, 'shutdown'); // reports what was never observed
    expect(seen.map((x) => (x.intoPanic() as Error).message)).toEqual([expect.stringContaining('control')]);
  });

  it('a handle also awaited on its own, or passed twice, settles both ways', async () => {
    const h = rt.spawn(t.add, 20, 22);
    const direct = h.then((v) => v * 2);
    expect(await joinAll([h, h])).toEqual([42, 42]);
    expect(await direct).toBe(84);
  });

  it('inside a task: joins nested spawns (some run inline at the join, some stolen)', async () => {
    const out = await within(rt.spawn(t.fanJoin, 40, 1), 20_000, 'fanJoin');
    expect(out).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('refuses what is not an array of JoinHandles, naming the element', () => {
    expect(() => joinAll([rt.spawn(t.add, 1, 1), Promise.resolve(1) as unknown as JoinHandle<number>])).toThrow(
      /joinAll\(\) takes JoinHandles only; element 1 is object/,
    );
    expect(() => joinAll(7 as never)).toThrow(/takes an array of JoinHandles/);
  });
});
