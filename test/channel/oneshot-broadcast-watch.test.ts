import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AtomicI32,
  HandleStateError,
  LaggedError,
  RecvError,
  Runtime,
  SendError,
  TryRecvError,
  broadcast,
  globalHeap,
  mpsc,
  oneshot,
  watch,
} from '../../src/index.js';
import { kTerminateWorker } from '../../src/runtime.js';
import * as t from '../fixtures/channel-tasks.js';
import { rejectionOf, until, within } from '../helpers.js';

let rt: Runtime;
beforeAll(() => {
  rt = new Runtime({ workers: 2 });
});
afterAll(() => rt.shutdown());

describe('oneshot', () => {
  it('returns a value from a spawned task: await receiver', async () => {
    const [tx, rx] = oneshot<string>();
    const h = rt.spawn(t.sendOnce, tx, 'hello from spawned task');
    expect(await rx).toBe('hello from spawned task');
    await h;
  });

  it('carries every kind of value, on one thread and from a task: numbers (-0, floats, beyond int32), strings (Latin-1, not, long), objects, out-of-line', async () => {
    const values: unknown[] = [0, -0, 7, -2, 1.5, 2 ** 31, NaN, true, false, null, undefined, '', 'ab', 'é'.repeat(20), '日本', 'x'.repeat(35), 'y'.repeat(36), 'z'.repeat(500), { a: 1, b: [2, 3] }, new Array(50).fill(7)];
    const same = (got: unknown[]): void => {
      expect(got.length).toBe(values.length);
      for (let i = 0; i < values.length; i++) {
        if (typeof values[i] === 'object' && values[i] !== null) expect(got[i]).toEqual(values[i]);
        else expect(Object.is(got[i], values[i]), `value ${i}: ${String(got[i])} for ${String(values[i])}`).toBe(true);
      }
    };
    const here = values.map((v) => {
      const [tx, rx] = oneshot<unknown>();
      tx.send(v);
      return rx.tryRecv();
    });
    same(here);
    const pairs = values.map(() => oneshot<unknown>());
    const h = rt.spawn(t.sendEach, pairs.map(([tx]) => tx), values);
    same(await within(Promise.all(pairs.map(([, rx]) => rx.recv())), 5000, 'the values from the task'));
    await h;
  });

  it('a sender dropped unsent rejects the receiver with a closed RecvError', async () => {
    const [tx, rx] = oneshot<string>();
    await rt.spawn(t.dropOnce, tx);
    const e = (await rejectionOf(rx.recv())) as RecvError;
    expect(e).toBeInstanceOf(RecvError);
    expect(e.code).toBe('ERR_SPINDLE_CLOSED');
    expect(e.message).toMatch(/dropped without sending/);
  });

  it('a second send throws and gives the value back; a send after the receiver left fails', async () => {
    const [tx, rx] = oneshot<{ n: number }>();
    tx.send({ n: 1 });
    const e = (() => {
      try {
        tx.send({ n: 2 });
      } catch (x) {
        return x as SendError<{ n: number }>;
      }
    })()!;
    expect(e).toBeInstanceOf(SendError);
    expect(e.code).toBe('ERR_SPINDLE_ALREADY_SET');
    expect(e.value).toEqual({ n: 2 });
    expect(await rx.recv()).toEqual({ n: 1 });
    await expect(rx.recv()).rejects.toThrow(/already received/);

    const [tx2, rx2] = oneshot<string>();
    const closed = tx2.closed();
    rx2.drop();
    await within(closed, 2000, 'oneshot Sender.closed()');
    expect(tx2.isClosed()).toBe(true);
    const e2 = (() => {
      try {
        tx2.send('late');
      } catch (x) {
        return x as SendError<string>;
      }
    })()!;
    expect(e2.value).toBe('late');
    expect(e2.message).toMatch(/receiver is gone/);
  });

  it('a sender whose send went through is spent: isClosed() and closed() say so instead of reading the freed channel', async () => {
    const [tx, rx] = oneshot<string>();
    tx.send('v');
    expect(await rx).toBe('v'); // the receiver has freed the channel
    expect(() => tx.isClosed()).toThrow(HandleStateError);
    expect(() => tx.isClosed()).toThrow(/already sent its value/);
    const e = await within(rejectionOf(tx.closed()), 2000, 'closed() after a send to reject');
    expect(e).toBeInstanceOf(HandleStateError);
    // A refused send knows the receiver is gone.
    const [tx2, rx2] = oneshot<string>();
    rx2.drop();
    expect(() => tx2.send('late')).toThrow(SendError);
    expect(tx2.isClosed()).toBe(true);
    await within(tx2.closed(), 2000, 'closed() after a refused send');
  });

  it('round trips through a serving task, and frees every oneshot it used', async () => {
    const heap = globalHeap();
    const [tx, rx] = mpsc.channel<[number, oneshot.Sender<number>]>(16);
    const h = rt.spawn(t.oneshotServer, rx);
    await new Promise((r) => setTimeout(r, 20));
    const before = heap.stats().blocks;
    for (let i = 0; i < 500; i++) {
      const [otx, orx] = oneshot<number>();
      await tx.send([i, otx]);
      expect(await orx).toBe(i + 1);
    }
    expect(heap.stats().blocks).toBeLessThanOrEqual(before + 2);
    tx.drop();
    expect(await h).toBe(500);
  });

  it('a sender held by a worker that dies: the receiver sees closed, no hang', async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [otx, orx] = oneshot<number>();
      const started = new AtomicI32(0);
      const h = rt1.spawn(t.holdOneshot, otx, started);
      h.then(undefined, () => {});
      await until(() => started.load() === 1, 5000, 'the holding task');
      rt1[kTerminateWorker](0);
      const r = await within(orx.recv().then(() => 'value', (e: unknown) => e), 5000, 'the receiver to see the dead sender');
      expect(r).toBeInstanceOf(RecvError);
    } finally {
      await rt1.shutdown();
    }
  });
});

describe('broadcast', () => {
  it('carries every kind of value: numbers, short and long strings (inline, out of line, past the copy loop), objects', () => {
    const values: unknown[] = [0, -1, 2 ** 40, -0, 'ab', 'é'.repeat(40), 'x'.repeat(300), { a: [1, 2], s: 'y'.repeat(200) }, null, true];
    const [tx, rx] = broadcast<unknown>(16);
    for (const v of values) tx.send(v);
    for (const v of values) {
      const got = rx.tryRecv();
      if (typeof v === 'object' && v !== null) expect(got).toEqual(v);
      else expect(Object.is(got, v), `${String(v).slice(0, 20)} came back as ${String(got).slice(0, 20)}`).toBe(true);
    }
    const [wtx, wrx] = watch<unknown>('z'.repeat(500));
    expect(wrx.borrow()).toBe('z'.repeat(500));
    wtx.send({ big: 'w'.repeat(400), n: 7 });
    expect(wrx.borrow()).toEqual({ big: 'w'.repeat(400), n: 7 });
    tx.drop();
    rx.drop();
    wtx.drop();
    wrx.drop();
  });

  it('every receiver gets every value sent after it subscribed, on other threads too', async () => {
    const [tx, rx] = broadcast<number>(64);
    const ready = new AtomicI32(0);
    const hs = [rt.spawn(t.broadcastReader, tx.subscribe(), ready), rt.spawn(t.broadcastReader, tx.subscribe(), ready)];
    await until(() => ready.load() === 2, 5000, 'readers subscribed');
    for (let i = 0; i < 50; i++) expect(tx.send(i)).toBe(3);
    const late = tx.subscribe();
    tx.send(50);
    tx.drop();
    const mine: number[] = [];
    for await (const v of rx) mine.push(v);
    const all = Array.from({ length: 51 }, (_, i) => i);
    expect(mine).toEqual(all);
    expect(await late.recv()).toBe(50);
    expect(await late.recv()).toBeUndefined();
    for (const out of await Promise.all(hs)) expect(out).toEqual(all);
    rx.drop();
    late.drop();
  });

  it('a receiver that falls behind gets Lagged(n) once and continues from the oldest kept value', async () => {
    const [tx, rx] = broadcast<number>(4);
    for (let i = 0; i < 10; i++) tx.send(i);
    const e = (await rejectionOf(rx.recv())) as LaggedError;
    expect(e).toBeInstanceOf(LaggedError);
    expect(e.skipped).toBe(6);
    expect(e.code).toBe('ERR_SPINDLE_LAGGED');
    const rest = [];
    for (let i = 0; i < 4; i++) rest.push(await rx.recv());
    expect(rest).toEqual([6, 7, 8, 9]);
    expect(() => rx.tryRecv()).toThrow(TryRecvError);
    const c = rx.clone();
    tx.send(10);
    expect([await rx.recv(), await c.recv()]).toEqual([10, 10]);
    tx.drop();
    rx.drop();
    c.drop();
  });

  it('capacity is rounded up to a power of two; no receiver means SendError; bad capacity is a RangeError', () => {
    const [tx, rx] = broadcast<string>(3);
    for (const s of ['a', 'b', 'c', 'd']) tx.send(s);
    expect(rx.len()).toBe(4);
    rx.drop();
    const e = (() => {
      try {
        tx.send('nobody');
      } catch (x) {
        return x as SendError<string>;
      }
    })()!;
    expect(e).toBeInstanceOf(SendError);
    expect(e.value).toBe('nobody');
    tx.drop();
    expect(() => broadcast(0)).toThrow(RangeError);
    expect(() => broadcast(2.5)).toThrow(RangeError);
    const [tx2, rx2] = broadcast<unknown>(2);
    expect(() => tx2.send({ end: tx2 })).toThrow(/one owner/);
    // The error names where the handle sits, however deep.
    expect(() => tx2.send({ end: tx2 })).toThrow(/\(at \.end\) is a broadcast\.Sender/);
    expect(() => tx2.send({ a: [1, 'x', { b: new Map<unknown, unknown>([['k', 2], [3, tx2]]) }] })).toThrow(/\(at \.a\[2\]\.b\.<map value 1>\)/);
    expect(() => tx2.send([new Set([tx2])])).toThrow(/\(at \[0\]\.<set item 0>\)/);
    expect(() => tx2.send(tx2)).toThrow(/broadcast\.Sender\.send\(value\) is a broadcast\.Sender/);
    tx2.drop();
    rx2.drop();
  });

  it('a slow reader on a worker lags while the writer never waits', async () => {
    const [tx, rx] = broadcast<number>(8);
    const ready = new AtomicI32(0);
    const h = rt.spawn(t.broadcastReader, rx, ready);
    await until(() => ready.load() === 1, 5000, 'reader');
    for (let i = 0; i < 5000; i++) tx.send(i);
    tx.drop();
    const out = await h;
    const values = out.filter((x): x is number => typeof x === 'number');
    const lagged = out.filter((x) => typeof x === 'string').reduce((n, x) => n + Number((x as string).slice(4)), 0);
    expect(values.length + lagged).toBe(5000);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
    expect(values[values.length - 1]).toBe(4999);
  });
});

describe('watch', () => {
  it('borrow the latest, await changed(), sendModify; receivers on workers see the changes', async () => {
    const [tx, rx] = watch<number>(0);
    const ready = new AtomicI32(0);
    const h = rt.spawn(t.watchUntil, tx.subscribe(), 10, ready);
    await until(() => ready.load() === 1, 5000, 'watcher');
    expect(rx.borrow()).toBe(0);
    expect(rx.hasChanged()).toBe(false);
    for (let i = 1; i <= 10; i++) {
      tx.send(i);
      await new Promise((r) => setTimeout(r, 2));
    }
    const seen = await h;
    expect(seen[0]).toBe(0);
    expect(seen[seen.length - 1]).toBe(10);
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(rx.hasChanged()).toBe(true);
    await rx.changed();
    expect(rx.borrowAndUpdate()).toBe(10);
    tx.sendModify((v) => v * 2);
    await rx.changed();
    expect(rx.borrow()).toBe(20);
    expect(tx.sendIfModified(() => false)).toBe(false);
    expect(rx.hasChanged()).toBe(false);
    expect(tx.sendReplace(21)).toBe(20);
    expect(tx.receiverCount()).toBe(1);
    tx.drop();
    await rx.changed();
    await expect(rx.changed()).rejects.toBeInstanceOf(RecvError);
    rx.drop();
  });

  it('changed() rejects on every receiver once the sender is gone (dropped on a worker)', async () => {
    const [tx, rx] = watch<number>(1);
    const h = rt.spawn(t.watchToEnd, rx.clone());
    tx.send(2);
    await new Promise((r) => setTimeout(r, 20));
    tx.drop();
    expect(await h).toEqual([2, 'RecvError']);
    expect(rx.borrowAndUpdate()).toBe(2);
    await expect(rx.changed()).rejects.toThrow(/sender is gone/);
    rx.drop();
  });

  it('waitFor resolves when the predicate holds; send with no receiver fails', async () => {
    const [tx, rx] = watch({ ready: false, n: 0 });
    const w = rx.waitFor((s) => s.ready);
    tx.send({ ready: false, n: 1 });
    tx.send({ ready: true, n: 2 });
    expect(await w).toEqual({ ready: true, n: 2 });
    rx.drop();
    expect(() => tx.send({ ready: true, n: 3 })).toThrow(SendError);
    expect(tx.sendReplace({ ready: true, n: 4 })).toEqual({ ready: true, n: 2 });
    expect(tx.borrow()).toEqual({ ready: true, n: 4 });
    tx.drop();
  });
});
