import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbortedError, Runtime, broadcast, mpsc, oneshot, select, watch } from '../../src/index.js';
import * as t from '../fixtures/channel-tasks.js';
import { STRESS, rejectionOf, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 3 });
});
afterAll(() => rt.shutdown());

describe('select', () => {
  const n = STRESS ? 100_000 : 10_000;

  it(`over two receivers and a timer, ${n} values each: takes only the winner, loses nothing`, async () => {
    const [atx, arx] = mpsc.channel<number>(64);
    const [btx, brx] = mpsc.channel<number>(64);
    const ha = rt.spawn(t.producePaced, atx, n);
    const hb = rt.spawn(t.produce, btx, 0, n);
    const next = { a: 0, b: 0 };
    let ticks = 0;
    let aDone = false;
    let bDone = false;
    let rounds = 0;
    while (!aDone || !bDone) {
      rounds++;
      const branches: { a?: mpsc.Receiver<number>; b?: mpsc.Receiver<number>; tick: Promise<'tick'> } = { tick: timer(1) };
      if (!aDone) branches.a = arx;
      if (!bDone) branches.b = brx;
      const r = await select(branches as { a: mpsc.Receiver<number>; b: mpsc.Receiver<number>; tick: Promise<'tick'> });
      if (r.key === 'tick') {
        ticks++;
        continue;
      }
      if (r.done) {
        if (r.key === 'a') aDone = true;
        else bDone = true;
        continue;
      }
      if (r.value !== next[r.key]) expect.fail(`${r.key}: got ${r.value}, expected ${next[r.key]}`);
      next[r.key]++;
    }
    expect(next).toEqual({ a: n, b: n });
    expect(rounds).toBe(2 * n + ticks + 2);
    await Promise.all([ha, hb]);
    arx.drop();
    brx.drop();
  }, STRESS ? 300_000 : 60_000);

  it('abandoned through its signal, it takes nothing', async () => {
    const [tx, rx] = mpsc.unbounded<string>();
    const [otx, orx] = oneshot<string>();
    const ac = new AbortController();
    const s = select({ m: rx, o: orx }, { signal: ac.signal });
    ac.abort();
    expect(await rejectionOf(s)).toBeInstanceOf(AbortedError);
    tx.trySend('kept');
    otx.send('kept too');
    expect(await select({ m: rx })).toEqual({ key: 'm', value: 'kept', done: false });
    expect(await orx).toBe('kept too');
    tx.drop();
    expect(await select({ m: rx })).toEqual({ key: 'm', value: undefined, done: true });
    rx.drop();
  });

  it('over a broadcast receiver, a watch receiver, an AbortSignal and a JoinHandle', async () => {
    const [btx, brx] = broadcast<number>(4);
    const [wtx, wrx] = watch('idle');
    const ac = new AbortController();
    const job = rt.spawn(t.after, 30, 7);
    wtx.send('busy');
    expect(await select({ b: brx, w: wrx })).toEqual({ key: 'w', value: 'busy', done: false });
    btx.send(1);
    expect(await select({ b: brx, w: wrx })).toEqual({ key: 'b', value: 1, done: false });
    expect(await select({ b: brx, w: wrx, job })).toEqual({ key: 'job', value: 7, done: false });
    setTimeout(() => ac.abort('stop'), 10);
    expect(await select({ b: brx, w: wrx, stop: ac.signal })).toEqual({ key: 'stop', value: 'stop', done: false });
    btx.drop();
    wtx.drop();
    brx.drop();
    wrx.drop();
  });

  it('bad input', async () => {
    await expect(select({})).rejects.toThrow(TypeError);
    await expect(select({ x: 42 as never })).rejects.toThrow(/branch 'x' is not a receiver/);
  });
});

describe('a three-stage pipeline over three workers', () => {
  it('passes every value through every stage, in order', async () => {
    const n = STRESS ? 200_000 : 20_000;
    const [tx0, rx0] = mpsc.channel<number>(128);
    const [tx1, rx1] = mpsc.channel<number>(128);
    const [tx2, rx2] = mpsc.channel<number>(128);
    const [tx3, rx3] = mpsc.channel<number>(128);
    const stages = [rt.spawn(t.stage, rx0, tx1, 'double'), rt.spawn(t.stage, rx1, tx2, 'inc'), rt.spawn(t.stage, rx2, tx3, 'double')];
    const feed = (async () => {
      for (let i = 0; i < n; i++) await tx0.send(i);
      tx0.drop();
    })();
    let i = 0;
    for await (const v of rx3) {
      if (v !== (i * 2 + 1) * 2) expect.fail(`value ${i} came out as ${v}`);
      i++;
    }
    await feed;
    expect(i).toBe(n);
    expect(await within(Promise.all(stages), 10_000, 'the stages')).toEqual([n, n, n]);
    rx3.drop();
  }, 60_000);
});

function timer(ms: number): Promise<'tick'> {
  return new Promise((r) => setTimeout(() => r('tick'), ms));
}
