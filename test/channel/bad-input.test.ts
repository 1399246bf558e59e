// Bad input and thread death, across every channel kind (mpsc has its own in mpsc.test.ts).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HandleStateError, MainThreadBlockingError, RecvError, Runtime, broadcast, mpsc, oneshot, watch } from '../../src/index.js';
import { kTerminateWorker } from '../../src/runtime.js';
import * as o from '../fixtures/ownership-tasks.js';
import { rejectionOf, until, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('bad input', () => {
  it('a value that cannot be encoded is a TypeError at send, naming the path; nothing is sent', () => {
    const [otx, orx] = oneshot<unknown>();
    expect(() => otx.send({ a: [1, () => 2] })).toThrow(TypeError);
    expect(() => otx.send({ a: [1, () => 2] })).toThrow(/\(at \.a\[1\]\) is a function/);
    otx.send('ok'); // the failed sends did not spend the sender
    const [btx, brx] = broadcast<unknown>(4);
    expect(() => btx.send({ deep: { s: Symbol('x') } })).toThrow(/\(at \.deep\.s\) is a symbol/);
    const [wtx, wrx] = watch<unknown>(0);
    expect(() => wtx.send(new Map([['k', () => 1]]))).toThrow(TypeError);
    expect(wrx.borrow()).toBe(0);
    for (const e of [orx, btx, brx, wtx, wrx]) (e as { drop(): void }).drop();
  });

  it('blocking variants throw on the main thread and say why', async () => {
    const [otx, orx] = oneshot<number>();
    const [btx, brx] = broadcast<number>(2);
    const [mtx, mrx] = mpsc.channel<number>(1);
    for (const f of [() => orx.recvSync(), () => orx.blockingRecv(), () => brx.recvSync(), () => brx.blockingRecv(), () => mtx.blockingSend(1), () => mrx.blockingRecv()]) {
      expect(f).toThrow(MainThreadBlockingError);
      expect(f).toThrow(/main thread/);
    }
    for (const e of [otx, orx, btx, brx, mtx, mrx]) e.drop();
  });

  it('using an end after moving it (into a task, or through a channel) is the moved-handle error', async () => {
    const [otx, orx] = oneshot<number>();
    const [btx, brx] = broadcast<number>(2);
    const [wtx, wrx] = watch<number>(0);
    await rt.spawn(o.keepEnds, otx, btx, wrx);
    expect(() => otx.send(1)).toThrow(HandleStateError);
    expect(() => btx.send(1)).toThrow(/moved/);
    expect(() => wrx.borrow()).toThrow(/moved/);
    const [ctx, crx] = mpsc.unbounded<unknown>();
    ctx.trySend({ r: orx, w: wtx });
    expect(() => orx.recv()).toThrow(/moved/);
    expect(() => wtx.send(2)).toThrow(/moved/);
    const got = (await crx.recv()) as { r: oneshot.Receiver<number>; w: watch.Sender<number> };
    expect(await within(rejectionOf(got.r.recv()), 5000, 'the oneshot whose sender went with its task')).toBeInstanceOf(RecvError);
    got.w.drop();
    brx.drop();
    ctx.drop();
    crx.drop();
  });
});

describe('a thread that dies holding an end drops it', () => {
  it('broadcast and watch senders on a killed worker: their receivers see the end, never a hang', async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [btx, brx] = broadcast<number>(4);
      const [wtx, wrx] = watch<number>(0);
      const started = new Int32Array(new SharedArrayBuffer(4));
      const h = rt1.spawn(o.holdForever, started, btx, wtx);
      h.then(undefined, () => {});
      await until(() => Atomics.load(started, 0) === 1, 5000, 'the holding task');
      rt1[kTerminateWorker](0);
      expect(await within(brx.recv(), 5000, 'the broadcast receiver to see its dead sender')).toBeUndefined();
      expect(await within(rejectionOf(wrx.changed()), 5000, 'watch changed() to reject after its sender died')).toBeInstanceOf(RecvError);
      brx.drop();
      wrx.drop();
    } finally {
      await rt1.shutdown();
    }
  });
});
