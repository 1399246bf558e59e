import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, globalHeap } from '../../src/index.js';
import { endpointPair, releaseProxy, spawnActor, wrap } from '../../src/comlink.js';
import { kTerminateWorker } from '../../src/runtime.js';
import * as a from '../fixtures/actor-tasks.js';
import * as ch from '../fixtures/channel-tasks.js';
import { SHARED } from '../../src/shared/handle.js';
import { exited, firstMessage, startWorker, until, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('spindle/comlink', () => {
  it('spawnActor: calls, property reads and errors reach the actor on its worker', async () => {
    const c = spawnActor(a.makeCounter, 10);
    expect(await c.add(5)).toBe(15);
    expect(await c.n).toBe(15);
    await expect(c.fail('nope')).rejects.toThrow('nope');
    c[releaseProxy]();
  });

  it('the remote passes to other tasks, which reach the same actor; it ends when every remote is released', async () => {
    const c = spawnActor(a.makeCounter, 0);
    const results = await Promise.all([rt.spawn(a.useCounter, c, 200), rt.spawn(a.useCounter, c, 200), rt.spawn(a.useCounter, c, 100)]);
    expect(Math.max(...results)).toBe(500);
    expect(await c.add(0)).toBe(500);
    c[releaseProxy]();
  });

  it('an actor whose task throws answers every call with its error', async () => {
    const c = spawnActor(a.brokenActor);
    await expect(within(c.add(1), 5000, 'a call on a broken actor')).rejects.toThrow('no counter today');
    c[releaseProxy]();
  });

  it('endpointPair: expose in a task, wrap here; serve() resolves when released', async () => {
    const [here, there] = endpointPair();
    const h = rt.spawn(a.serveCounter, there, 100);
    const c = wrap<a.Counter>(here);
    expect(await c.add(1)).toBe(101);
    expect(await c.add(2)).toBe(103);
    c[releaseProxy]();
    expect(await within(h, 5000, 'serve() to end on release')).toBe(103);
    await within(here.closed(), 5000, 'this side to see the other side gone');
    // As with a MessagePort, posting towards a side that is gone is no error (an actor's late reply
    // must not kill its thread); a call made through it fails "gone" instead of hanging.
    expect(() => here.postMessage({})).not.toThrow();
    await expect(within(wrap<a.Counter>(here).add(1), 5000, 'a call through an endpoint whose other side is gone')).rejects.toThrow(/gone/);
  });

  it('releasing actors over and over kills no worker (the actor’s reply to the release goes nowhere quietly)', async () => {
    const deaths = rt.metrics().workerDeaths;
    for (let i = 0; i < 200; i++) {
      const c = spawnActor(a.makeCounter, i);
      expect(await c.add(1)).toBe(i + 1);
      c[releaseProxy]();
    }
    // Every actor task has ended, then both workers have run more tasks since: a death would show.
    await until(() => rt.metrics().live === 0, 5000, 'the released actors to end');
    for (let i = 0; i < 50; i++) await Promise.all([rt.spawn((x: number) => x, i), rt.spawn((x: number) => x, i)]);
    expect(rt.metrics().workerDeaths).toBe(deaths);
  });

  it("an endpoint reaches a task whose module imports only 'spindle' (its kind is registered with the channels)", async () => {
    // A runtime of its own: no task here has loaded spindle/comlink on its worker.
    const fresh = new Runtime({ workers: 1 });
    try {
      const [here, there] = endpointPair();
      const h = fresh.spawn(ch.echoEndpoint, there);
      const got: unknown[] = [];
      const all = new Promise<void>((resolve) => {
        here.addEventListener('message', (ev) => {
          got.push(ev.data);
          if (got.length === 3) resolve();
        });
      });
      for (const m of [1, 'two', { three: 3 }]) here.postMessage(m);
      await within(all, 5000, 'the three echoes');
      expect(got).toEqual([1, 'two', { three: 3 }]);
      here.postMessage('bye');
      expect(await within(h, 5000, 'the echo task to end')).toBe(3);
      here.close();
    } finally {
      await fresh.shutdown();
    }
  });

  it('an endpoint closed on its own side refuses postMessage, naming it closed', () => {
    const [here, there] = endpointPair();
    here.close();
    there.close();
    expect(() => here.postMessage({})).toThrow(/closed/);
  });

  it('serve() on a plain worker keeps it serving until released (as a MessagePort listener would)', async () => {
    const [here, there] = endpointPair();
    const ref = there[SHARED]();
    ref.commit?.();
    const w = startWorker('serve-worker', { buffer: globalHeap().buffer, handle: { kind: ref.kind, offset: ref.offset, generation: ref.generation } });
    expect(await firstMessage(w)).toBe('ready');
    const done = new Promise<unknown>((resolve) => w.on('message', resolve));
    const c = wrap<a.Counter>(here);
    for (let i = 1; i <= 20; i++) expect(await within(c.add(1), 5000, `call ${i} on the serving worker`)).toBe(i);
    c[releaseProxy]();
    expect(await within(done, 5000, 'serve() to resolve on release')).toEqual({ served: 20 });
    expect(await exited(w)).toBe(0);
  });

  it('a call to an actor whose worker dies fails instead of hanging', async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [here, there] = endpointPair();
      const h = rt1.spawn(a.serveCounter, there, 0);
      h.then(undefined, () => {});
      const remote = wrap<a.Counter>(here);
      expect(await remote.add(1)).toBe(1);
      rt1[kTerminateWorker](0);
      await expect(within(remote.add(1), 5000, 'a call after the actor died')).rejects.toThrow(/gone/);
    } finally {
      await rt1.shutdown();
    }
  });

  it('leaves nothing behind in the shared heap', async () => {
    const before = globalHeap().stats().blocks;
    const c = spawnActor(a.makeCounter, 0);
    for (let i = 0; i < 50; i++) await c.add(1);
    c[releaseProxy]();
    // The actor frees its channels once it has seen the release: wait for that, bounded, instead of sleeping.
    await until(() => globalHeap().stats().blocks <= before, 5000, 'the actor and its client to free every block they used');
  });
});
