// Channel ends follow the handle rules of the shared state (codec.ts `ownedArgs`):
// an end moved into a task and neither dropped nor moved on is dropped at the
// task's end, so its peers see the channel closed instead of waiting forever.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecvError, Runtime, SendError, broadcast, globalHeap, mpsc, oneshot, watch } from '../../src/index.js';
import { endpointPair, releaseProxy, spawnActor } from '../../src/comlink.js';
import * as o from '../fixtures/ownership-tasks.js';
import * as t from '../fixtures/channel-tasks.js';
import { kTerminateWorker } from '../../src/runtime.js';
import { AtomicI32 } from '../../src/index.js';
import { SHARED, reviverFor } from '../../src/shared/handle.js';
import { HandleStateError } from '../../src/sync/errors.js';
import { rejectionOf, until, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('an end moved into a task and left there is dropped at its end', () => {
  it('mpsc: a sender left behind ends the stream; a receiver left behind closes the channel for senders', async () => {
    const [tx, rx] = mpsc.channel<number>(4);
    await tx.send(1);
    expect(await rt.spawn(o.keepEnds, tx)).toBe(1);
    expect(await within(rx.recv(), 5000, 'the queued value')).toBe(1);
    expect(await within(rx.recv(), 5000, 'the end of the stream (the sender was dropped with its task)')).toBeUndefined();
    rx.drop();

    const [tx2, rx2] = mpsc.channel<number>(4);
    expect(await rt.spawn(o.keepEnds, rx2)).toBe(1);
    await within(tx2.closed(), 5000, 'the sender seeing the receiver dropped with its task');
    const e = await rejectionOf(tx2.send(7));
    expect(e).toBeInstanceOf(SendError);
    expect((e as SendError<number>).value).toBe(7);
    tx2.drop();
  });

  it('oneshot, broadcast and watch senders left behind: their receivers see the end', async () => {
    const [otx, orx] = oneshot<string>();
    const [btx, brx] = broadcast<number>(4);
    const [wtx, wrx] = watch<number>(0);
    expect(await rt.spawn(o.keepEnds, otx, btx, wtx)).toBe(3);
    expect(await within(rejectionOf(orx.recv()), 5000, 'the oneshot receiver to see its sender gone')).toBeInstanceOf(RecvError);
    expect(await within(brx.recv(), 5000, 'the broadcast receiver to see the end')).toBeUndefined();
    expect(await within(rejectionOf(wrx.changed()), 5000, 'watch changed() to reject')).toBeInstanceOf(RecvError);
    orx.drop();
    brx.drop();
    wrx.drop();
  });

  it('an end the task returns moves on to the awaiter and stays usable', async () => {
    const [tx, rx] = mpsc.channel<number>(4);
    const { tx: back } = await rt.spawn(o.returnEnd, tx);
    await back.send(5);
    expect(await rx.recv()).toBe(5);
    back.drop();
    expect(await within(rx.recv(), 5000, 'the end after the returned sender is dropped')).toBeUndefined();
    rx.drop();
  });

  it('a task cancelled before it runs drops the ends moved into it', async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const flags = new Int32Array(new SharedArrayBuffer(8));
      const blocker = rt1.spawn(o.blockUntil, flags);
      await until(() => Atomics.load(flags, 1) === 1, 5000, 'the blocking task to occupy the only worker');
      const [tx, rx] = mpsc.channel<number>(4);
      const victim = rt1.spawn(o.keepEnds, tx);
      victim.abort();
      Atomics.store(flags, 0, 1);
      Atomics.notify(flags, 0);
      expect(await blocker).toBe(1);
      await rejectionOf(victim);
      expect(await within(rx.recv(), 5000, 'the end of a stream whose sender went with a cancelled task')).toBeUndefined();
      rx.drop();
    } finally {
      await rt1.shutdown();
    }
  });

  it('an endpoint left in a task closes: the other side sees it gone', async () => {
    const [here, there] = endpointPair();
    here.addEventListener('message', () => {}); // an endpoint learns the other side is gone by receiving
    expect(await rt.spawn(o.keepEnds, there)).toBe(1);
    await within(here.closed(), 5000, 'this endpoint to see the other side dropped with its task');
  });

  it('an actor remote passed to a task and not released there is released at its end; the actor then ends', async () => {
    // The actor's task owns `ended` (moved in with its arguments) and drops it when it ends.
    const [ended, endedRx] = mpsc.channel<number>(1);
    const c = spawnActor(o.makeWatchedCounter, 0, ended);
    expect(await rt.spawn(o.callAndKeep, c)).toBe(1);
    expect(await rt.spawn(o.callAndRelease, c)).toBe(2);
    expect(await c.add(1)).toBe(3);
    c[releaseProxy]();
    expect(await within(endedRx.recv(), 5000, 'the actor to end once every remote is released')).toBeUndefined();
    endedRx.drop();
  });
});

describe('generations', () => {
  it('a stale copy of an end (its block dropped, freed and reused by another end) does not revive, and leaves the new end alone', () => {
    const [tx, rx] = mpsc.channel<number>(4);
    const stale = tx[SHARED](); // what a copy in flight would carry: (kind, offset, generation)
    expect(stale.generation).toBe(globalHeap().generation(stale.offset));
    tx.drop();
    rx.drop(); // the channel is freed, and with it the sender's end block
    const made: [mpsc.Sender<number>, mpsc.Receiver<number>][] = [];
    try {
      let reused: mpsc.Sender<number> | undefined;
      for (let i = 0; i < 1000 && reused === undefined; i++) {
        const pair = mpsc.channel<number>(4);
        made.push(pair);
        if (pair[0][SHARED]().offset === stale.offset) reused = pair[0];
      }
      if (reused === undefined) expect.fail('the heap never reused the freed end block in 1000 channels');
      expect(() => reviverFor('mpsc.Sender')(globalHeap(), stale.offset, stale.generation)).toThrow(HandleStateError);
      expect(() => reviverFor('mpsc.Sender')(globalHeap(), stale.offset, stale.generation)).toThrow(/stale/);
      // The new end still belongs to this thread and works.
      expect(reused.trySend(1)).toBeUndefined();
    } finally {
      for (const [t, r] of made) {
        t.drop();
        r.drop();
      }
    }
  });

  it('ends carry their generation when they move, for every kind', () => {
    const ends = [...mpsc.channel<number>(1), ...oneshot<number>(), ...broadcast<number>(1), ...watch<number>(0)];
    for (const e of ends) {
      const ref = (e as unknown as { [SHARED](): { offset: number; generation?: number } })[SHARED]();
      expect(ref.generation).toBe(globalHeap().generation(ref.offset));
    }
    for (const e of ends) (e as { drop(): void }).drop();
  });
});

describe('a value nobody will receive drops the handles moved into it', () => {
  it('mpsc: requests queued when the receiver is dropped fail their reply oneshots (inline and out-of-line values)', async () => {
    const [tx, rx] = mpsc.channel<{ reply: oneshot.Sender<number>; pad?: string }>(4);
    const [a, ra] = oneshot<number>();
    const [b, rb] = oneshot<number>();
    await tx.send({ reply: a });
    await tx.send({ reply: b, pad: 'x'.repeat(200) });
    rx.drop();
    expect(await within(rejectionOf(ra.recv()), 5000, 'the inline request\'s reply to fail')).toBeInstanceOf(RecvError);
    expect(await within(rejectionOf(rb.recv()), 5000, 'the out-of-line request\'s reply to fail')).toBeInstanceOf(RecvError);
    tx.drop();
  });

  it("mpsc: a receiver's worker dies with requests queued; once the death is seen, the replies fail (never a hang)", async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [tx, rx] = mpsc.channel<unknown>(4);
      const started = new AtomicI32(0);
      const h = rt1.spawn(t.holdReceiver, rx as mpsc.Receiver<number>, started);
      h.then(undefined, () => {});
      await until(() => started.load() === 1, 5000, 'the receiving task');
      await tx.send(1); // the task's one recv takes this
      const [reply, rreply] = oneshot<number>();
      await tx.send({ reply });
      rt1[kTerminateWorker](0);
      // Seeing the death (here through closed()) drops what was queued, with the sender still held.
      await within(tx.closed(), 5000, 'the sender seeing the dead receiver');
      expect(await within(rejectionOf(rreply.recv()), 5000, 'the queued request\'s reply to fail')).toBeInstanceOf(RecvError);
      tx.drop();
      started.free();
    } finally {
      await rt1.shutdown();
    }
  });

  it('oneshot: a value never read drops its handles; a value read keeps them', async () => {
    const [otx, orx] = oneshot<{ tx: mpsc.Sender<number> }>();
    const [tx, rx] = mpsc.channel<number>(4);
    otx.send({ tx });
    orx.drop();
    expect(await within(rx.recv(), 5000, 'the end of a stream whose sender sat unread in a oneshot')).toBeUndefined();
    rx.drop();

    const [otx2, orx2] = oneshot<{ tx: mpsc.Sender<number> }>();
    const [tx2, rx2] = mpsc.channel<number>(4);
    otx2.send({ tx: tx2 });
    const got = await orx2.recv();
    await got.tx.send(3);
    expect(await rx2.recv()).toBe(3);
    got.tx.drop();
    rx2.drop();
  });

  it('oneshot: a send refused because the receiver is gone spends the sender (nothing left to drop)', async () => {
    const before = globalHeap().stats().blocks;
    const [otx, orx] = oneshot<string>();
    orx.drop();
    expect(() => otx.send('late')).toThrow(/receiver is gone/);
    expect(() => otx.send('again')).toThrow(/already sent/);
    expect(globalHeap().stats().blocks).toBe(before);
  });

  it('oneshot: close() after the value was sent keeps it readable, once (no double free)', async () => {
    const before = globalHeap().stats().blocks;
    const [otx, orx] = oneshot<{ big: string }>();
    otx.send({ big: 'y'.repeat(100) });
    orx.close();
    expect((await orx.recv()).big).toBe('y'.repeat(100));
    orx.drop();
    const [otx2, orx2] = oneshot<string>();
    orx2.close();
    expect(() => otx2.send('late')).toThrow(SendError);
    otx2.drop(); // a refused send spent the sender (as in Tokio): this drop does nothing
    expect(await within(rejectionOf(orx2.recv()), 5000, 'a closed, empty oneshot to reject')).toBeInstanceOf(RecvError);
    orx2.drop();
    expect(globalHeap().stats().blocks).toBe(before);
  });
});
