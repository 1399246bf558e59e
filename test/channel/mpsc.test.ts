import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AbortedError,
  Arc,
  AtomicI32,
  HandleStateError,
  MainThreadBlockingError,
  Runtime,
  SendError,
  TryRecvError,
  TrySendError,
  globalHeap,
  mpsc,
} from '../../src/index.js';
import { kTerminateWorker } from '../../src/runtime.js';
import * as t from '../fixtures/channel-tasks.js';
import { STRESS, rejectionOf, thrownBy, until, within } from '../helpers.js';

describe('mpsc', () => {
  let rt: Runtime;
  beforeAll(() => {
    rt = new Runtime({ workers: 2 });
  });
  afterAll(() => rt.shutdown());

  const n = STRESS ? 1_000_000 : 100_000;

  it('values of every encoded length from 1 to 400 bytes, in the slot and out of line, arrive intact; heap blocks around them are untouched', async () => {
    // A payload is copied four bytes at a time plus a tail: an overrun would show in a canary block or a later value.
    const heap = globalHeap();
    const [tx, rx] = mpsc.channel<unknown>(4);
    const canaries: { at: number; size: number; fill: number }[] = [];
    for (let len = 0; len <= 400; len++) {
      const size = 1 + (len % 13);
      const at = heap.alloc(size);
      const fill = (len * 37) & 0xff;
      heap.u8For(at + size).fill(fill, at, at + size);
      canaries.push({ at, size, fill });
      const text = 'abcdefghij'.repeat(41).slice(0, len);
      const values = [text, { text, n: len }, [len, text.slice(0, len >> 1), len / 3]];
      for (const v of values) await tx.send(v);
      for (const v of values) expect(await rx.recv()).toEqual(v);
    }
    for (const c of canaries) {
      const bytes = heap.u8For(c.at + c.size).subarray(c.at, c.at + c.size);
      expect([...bytes].every((b) => b === c.fill), `canary of ${c.size} bytes at ${c.at}`).toBe(true);
      heap.free(c.at);
    }
    tx.drop();
    rx.drop();
  });

  it(`${n} messages from two worker producers to the main thread arrive in order per sender, none lost or doubled`, async () => {
    const [tx, rx] = mpsc.channel<number>(1024);
    const per = n / 2;
    const hs = [rt.spawn(t.produce, tx.clone(), 0, per), rt.spawn(t.produceSync, tx, per, per)];
    const next = [0, 0];
    let count = 0;
    for await (const v of rx) {
      const p = v < per ? 0 : 1;
      if (v !== p * per + next[p]!) expect.fail(`producer ${p}: got ${v}, expected ${p * per + next[p]!}`);
      next[p]!++;
      count++;
    }
    expect(count).toBe(n);
    expect(next).toEqual([per, per]);
    expect(await Promise.all(hs)).toEqual([per, per]);
    rx.drop();
  }, STRESS ? 300_000 : 60_000);

  it(`${n} messages worker to worker (two producers, one consumer task) arrive in order, none lost`, async () => {
    const [tx, rx] = mpsc.channel<number>(256);
    const per = n / 2;
    const consumer = rt.spawn(t.consume, rx, 2, per);
    // Async sends: a sendSync could land on the consumer's own worker, where it is refused (below).
    const hs = [rt.spawn(t.produce, tx.clone(), 0, per), rt.spawn(t.produce, tx, per, per)];
    await Promise.all(hs);
    expect(await within(consumer, 60_000, 'the consumer task')).toEqual([n, (n * (n - 1)) / 2]);
  }, STRESS ? 300_000 : 60_000);

  it('sendSync on a full channel whose receiver lives on the same thread throws DeadlockError instead of hanging', async () => {
    expect(await within(rt.spawn(t.sendSyncToSelf), 10_000, 'the task')).toBe('DeadlockError ERR_SPINDLE_DEADLOCK');
  });

  it('backpressure blocks the producer: its completed sends never exceed received + capacity', async () => {
    const cap = 8;
    const [tx, rx] = mpsc.channel<number>(cap);
    const sent = new AtomicI32(0);
    const total = 400;
    const h = rt.spawn(t.produceFast, tx, sent, total);
    await until(() => sent.load() === cap, 5000, 'the producer filling the channel');
    await new Promise((r) => setTimeout(r, 50));
    expect(sent.load()).toBe(cap); // blocked: nothing received yet
    let received = 0;
    let maxAhead = 0;
    for (;;) {
      if (received % 50 === 0) await new Promise((r) => setTimeout(r, 2)); // a slow consumer now and then
      const v = await rx.recv();
      if (v === undefined) break;
      expect(v).toBe(received);
      received++;
      maxAhead = Math.max(maxAhead, sent.load() - received);
      expect(sent.load()).toBeLessThanOrEqual(received + cap);
    }
    expect(received).toBe(total);
    expect(maxAhead).toBeLessThanOrEqual(cap);
    expect(await h).toBe(total);
    rx.drop();
    sent.free();
  });

  it('FIFO among waiting senders: a full channel admits waiting sends in the order they queued', async () => {
    const [tx, rx] = mpsc.channel<string>(1);
    await tx.send('first');
    const order = ['a', 'b', 'c'].map((s) => tx.send(s));
    expect(tx.capacity()).toBe(0);
    expect(() => tx.trySend('barge')).toThrow(TrySendError); // senders wait: no barging
    const got = [];
    for (let i = 0; i < 4; i++) got.push(await rx.recv());
    await Promise.all(order);
    expect(got).toEqual(['first', 'a', 'b', 'c']);
    tx.drop();
    expect(await rx.recv()).toBeUndefined();
    rx.drop();
  });

  it('closing: the last sender dropped ends the stream after the queued values', async () => {
    const [tx, rx] = mpsc.unbounded<number>();
    const tx2 = tx.clone();
    tx.trySend(1);
    tx.drop();
    tx2.trySend(2);
    expect(rx.isClosed()).toBe(false);
    tx2.drop();
    expect(await rx.recv()).toBe(1);
    expect(await rx.recv()).toBe(2);
    expect(await rx.recv()).toBeUndefined();
    expect(await rx.recv()).toBeUndefined();
    const e = (() => {
      try {
        rx.tryRecv();
      } catch (x) {
        return x as TryRecvError;
      }
    })();
    expect(e).toBeInstanceOf(TryRecvError);
    expect(e!.isClosed()).toBe(true);
    rx.drop();
  });

  it('closing: a dropped receiver fails senders with SendError carrying the value back, and wakes waiting ones', async () => {
    const [tx, rx] = mpsc.channel<{ k: number }>(1);
    await tx.send({ k: 0 });
    const waiting = tx.send({ k: 1 });
    const closed = tx.closed();
    rx.drop();
    const e = (await rejectionOf(waiting)) as SendError<{ k: number }>;
    expect(e).toBeInstanceOf(SendError);
    expect(e.code).toBe('ERR_SPINDLE_CLOSED');
    expect(e.value).toEqual({ k: 1 });
    await within(closed, 2000, 'Sender.closed()');
    const e2 = (await rejectionOf(tx.send({ k: 2 }))) as SendError<{ k: number }>;
    expect(e2.value).toEqual({ k: 2 });
    expect(e2.message).toMatch(/closed/);
    expect(() => tx.trySend({ k: 3 })).toThrow(/closed/);
    tx.drop();
  });

  it('closing: receiver.close() refuses new sends but drains what is queued', async () => {
    const [tx, rx] = mpsc.unbounded<number>();
    tx.trySend(1);
    tx.trySend(2);
    rx.close();
    expect(() => tx.trySend(3)).toThrow(TrySendError);
    expect(tx.isClosed()).toBe(true);
    expect(await rx.recv()).toBe(1);
    expect(await rx.recv()).toBe(2);
    expect(await rx.recv()).toBeUndefined();
    tx.drop();
    rx.drop();
  });

  it('a producer worker killed mid-stream: every completed send arrives exactly once, then the end (no hang)', async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [tx, rx] = mpsc.channel<number>(64);
      const done = new AtomicI32(0);
      const h = rt1.spawn(t.produceCounted, tx, done, 10_000_000);
      h.then(undefined, () => {});
      const got: number[] = [];
      for (;;) {
        const v = await rx.recv();
        got.push(v!);
        if (got.length === 3000) break;
      }
      rt1[kTerminateWorker](0);
      await rejectionOf(h);
      const completed = done.load(); // final: the thread is dead
      for (;;) {
        const v = await within(rx.recv(), 5000, 'the end of the stream after the producer died');
        if (v === undefined) break;
        got.push(v);
      }
      // Sends that completed before the death all arrived, in order, once; at most one more (completed, not yet counted).
      expect(got.length === completed || got.length === completed + 1).toBe(true);
      for (let i = 0; i < got.length; i++) if (got[i] !== i) expect.fail(`message ${i} is ${got[i]}`);
      rx.drop();
      done.free();
    } finally {
      await rt1.shutdown();
    }
  });

  it("a receiver's worker killed: senders see the channel closed (never a hang)", async () => {
    const rt1 = new Runtime({ workers: 1 });
    try {
      const [tx, rx] = mpsc.channel<number>(4);
      const started = new AtomicI32(0);
      const h = rt1.spawn(t.holdReceiver, rx, started);
      h.then(undefined, () => {});
      await until(() => started.load() === 1, 5000, 'the receiving task');
      await tx.send(1);
      rt1[kTerminateWorker](0);
      await within(tx.closed(), 5000, 'the sender seeing the dead receiver');
      for (let i = 0; i < 10; i++) {
        const r = await within(tx.send(i).then(() => 'sent', (e: unknown) => e), 5000, 'a send on a channel whose receiver died');
        if (r instanceof SendError) return void tx.drop();
      }
      expect.fail('sends kept succeeding after the receiver died');
    } finally {
      await rt1.shutdown();
    }
  });

  const rounds = STRESS ? 100_000 : 10_000;
  it(`recv({ signal }) aborted at random ${rounds} times loses nothing`, async () => {
    const [tx, rx] = mpsc.channel<number>(128);
    // A paced producer: the channel runs empty often, so many receives are waiting when aborted.
    const h = rt.spawn(t.producePaced, tx, rounds);
    let expected = 0;
    let aborted = 0;
    let seed = 12345;
    const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    while (expected < rounds) {
      const ac = new AbortController();
      const p = rx.recv({ signal: ac.signal });
      const r = rand();
      if (r < 0.25) ac.abort();
      else if (r < 0.5) queueMicrotask(() => ac.abort());
      else if (r < 0.6) setImmediate(() => ac.abort());
      try {
        const v = await p;
        if (v !== expected) expect.fail(`round ${expected}: got ${v}`);
        expected++;
      } catch (e) {
        if (!(e instanceof AbortedError)) throw e;
        aborted++;
      }
    }
    expect(await rx.recv()).toBeUndefined();
    expect(aborted).toBeGreaterThan(rounds / 20);
    await h;
    rx.drop();
  }, STRESS ? 300_000 : 60_000);

  it('an aborted send sends nothing and leaves its turn to the next sender', async () => {
    const [tx, rx] = mpsc.channel<string>(1);
    await tx.send('a');
    const ac = new AbortController();
    const lost = tx.send('aborted', { signal: ac.signal });
    const kept = tx.send('b');
    ac.abort('changed my mind');
    const e = await rejectionOf(lost);
    expect(e).toBeInstanceOf(AbortedError);
    expect((e as AbortedError).cause).toBe('changed my mind');
    expect(await rx.recv()).toBe('a');
    await kept;
    expect(await rx.recv()).toBe('b');
    expect(rx.len()).toBe(0);
    tx.drop();
    rx.drop();
  });

  it('clones on one thread and two channels, interleaved across segment ends and recycled segments, keep FIFO order', async () => {
    // A producer skips re-reading the tail segment while nobody has pushed since its own last
    // push: here other clones (and another channel) push in between, at every distance from a
    // segment's end, while the receiver recycles segments by draining at random.
    let seed = 12345;
    const rand = (k: number): number => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % k;
    const [a, rx] = mpsc.unbounded<unknown>();
    const [c, rx2] = mpsc.channel<unknown>(5);
    const senders = [a, a.clone(), a.clone()];
    const long = 'x'.repeat(200); // out of line: its own heap block
    let sent = 0;
    let got = 0;
    let sent2 = 0;
    let got2 = 0;
    const valueOf = (i: number): unknown => (i % 7 === 0 ? { i, long } : i % 3 === 0 ? `s${i}` : i);
    const check = (v: unknown, i: number): void => {
      const want = valueOf(i);
      if (typeof want === 'object' ? (v as { i: number }).i !== i : v !== want) expect.fail(`message ${i}: got ${JSON.stringify(v)}`);
    };
    for (let round = 0; round < 3000; round++) {
      const burst = 1 + rand(40);
      const s = senders[rand(senders.length)]!;
      for (let k = 0; k < burst; k++) {
        if (rand(2) === 0) await s.send(valueOf(sent++));
        else s.trySend(valueOf(sent++));
        if (rand(8) === 0 && sent2 - got2 < 5) c.trySend(sent2++);
      }
      for (let k = rand(sent - got + 1); k > 0; k--) check(rx.tryRecv(), got++);
      while (got2 < sent2) expect(rx2.tryRecv()).toBe(got2++);
    }
    for (const s of senders) s.drop();
    for (let v = await rx.recv(); v !== undefined; v = await rx.recv()) check(v, got++);
    expect(got).toBe(sent);
    expect(sent).toBeGreaterThan(30_000); // about a thousand segments, each recycled many times
    c.drop();
    rx.drop();
    rx2.drop();
  });

  it('trySend, tryRecv, recvMany and reserve', async () => {
    const [tx, rx] = mpsc.channel<number>(2);
    tx.trySend(1);
    tx.trySend(2);
    const full = thrownBy(() => tx.trySend(3)) as TrySendError<number>;
    expect(full.isFull()).toBe(true);
    expect(full.value).toBe(3);
    expect(rx.tryRecv()).toBe(1);
    const permit = await tx.reserve();
    expect(tx.capacity()).toBe(0);
    permit.send(4);
    const buf: number[] = [];
    expect(await rx.recvMany(buf, 10)).toBe(2);
    expect(buf).toEqual([2, 4]);
    const empty = thrownBy(() => rx.tryRecv()) as TryRecvError;
    expect(empty.isEmpty()).toBe(true);
    const p2 = await tx.reserve();
    p2.release();
    expect(tx.capacity()).toBe(2);
    tx.drop();
    expect(await rx.recvMany(buf, 10)).toBe(0);
    rx.drop();
  });

  it('blocking calls refuse the main thread; a worker consumer with recvSync sees everything', async () => {
    const [tx, rx] = mpsc.channel<number>(16);
    expect(() => tx.sendSync(1)).toThrow(MainThreadBlockingError);
    expect(() => rx.recvSync()).toThrow(MainThreadBlockingError);
    expect(() => rx.blockingRecv()).toThrow(/main thread/);
    const h = rt.spawn(t.consumeSync, rx);
    for (let i = 0; i < 1000; i++) await tx.send(i);
    tx.drop();
    expect(await h).toBe(1000);
  });

  it('values: objects, an Arc (moved, then dropped by the receiver), a SharedArrayBuffer (same memory)', async () => {
    const [tx, rx] = mpsc.unbounded<unknown>();
    const v = { a: [1, 'two', { three: 3n }], when: new Date(0), m: new Map([[1, 'x']]), big: 'y'.repeat(1000) };
    tx.trySend(v);
    expect(await rx.recv()).toEqual(v);
    tx.drop();
    rx.drop();

    const arc = Arc.new(new AtomicI32(41));
    const [atx, arx] = mpsc.unbounded<Arc<AtomicI32>>();
    const h = rt.spawn(t.bumpFromChannel, arx);
    await atx.send(arc.clone());
    expect(() => atx.trySend(arc.clone()) ?? 0).not.toThrow();
    atx.drop();
    expect(await h).toBe(43);
    expect(arc.strongCount()).toBe(1);
    arc.drop();

    const sab = new Int32Array(new SharedArrayBuffer(64));
    const [stx, srx] = mpsc.unbounded<Int32Array>();
    const h2 = rt.spawn(t.fillShared, srx);
    stx.trySend(sab);
    await h2;
    expect(Array.from(sab.slice(0, 4))).toEqual([0, 3, 6, 9]);
    stx.drop();
  });

  it('strings of every length a slot holds and every kind come back as themselves, through a worker and on one thread', async () => {
    // A slot's fast path writes a short Latin-1 string itself and longer ones through Node's latin1
    // codec, reads back likewise at its own switch-over; others take the general encoding.
    const kinds = [
      (i: number) => String.fromCharCode(97 + (i % 26)),
      (i: number) => String.fromCharCode(0x80 + (i % 128)), // Latin-1 above 0x7f, C1 controls included
      (i: number) => String.fromCharCode(i % 256),
      (i: number) => (i === 40 ? '日' : 'a'), // not Latin-1 from 41 characters on
      (i: number) => (i % 2 ? '\uD800' : 'z'), // lone surrogates
    ];
    const values: string[] = [];
    for (const char of kinds) {
      for (let n = 0; n <= 130; n++) {
        let s = '';
        for (let i = 0; i < n; i++) s += char(i);
        values.push(s);
      }
    }
    const [tx, rx] = mpsc.channel<unknown>(64);
    const [btx, brx] = mpsc.channel<unknown>(64);
    const server = rt.spawn(t.echoServer, rx, btx);
    const back: unknown[] = [];
    const reader = (async () => {
      for await (const v of brx) back.push(v);
    })();
    for (const v of values) await tx.send(v);
    tx.drop();
    expect(await server).toBe(values.length);
    await reader;
    expect(back).toEqual(values);

    const [ltx, lrx] = mpsc.unbounded<string>();
    for (const v of values) ltx.trySend(v);
    for (const v of values) expect(lrx.tryRecv()).toBe(v);
    ltx.drop();
    lrx.drop();
  });

  it('an empty tryRecv and a full trySend throw errors without a stack trace (polling outcomes); closed ones keep theirs', () => {
    const limit = Error.stackTraceLimit;
    const [tx, rx] = mpsc.channel<number>(1);
    const empty = thrownBy(() => rx.tryRecv()) as TryRecvError;
    expect(empty).toBeInstanceOf(TryRecvError);
    expect(empty.isEmpty()).toBe(true);
    expect(empty.stack).toBe('TryRecvError: spindle: mpsc tryRecv: the channel is empty');
    tx.trySend(1);
    const full = thrownBy(() => tx.trySend(2)) as TrySendError<number>;
    expect(full.isFull()).toBe(true);
    expect(full.value).toBe(2);
    expect(full.stack).not.toMatch(/\n\s+at /);
    expect(Error.stackTraceLimit).toBe(limit);
    rx.drop();
    const closed = thrownBy(() => tx.trySend(3)) as TrySendError<number>;
    expect(closed.isClosed()).toBe(true);
    expect(closed.stack).toMatch(/\n\s+at /);
    tx.drop();
  });

  it('bad input: capacity, values that cannot cross, moved and dropped ends', async () => {
    for (const cap of [0, -1, 1.5, NaN, 2 ** 40, '8']) {
      const e = (() => {
        try {
          mpsc.channel(cap as number);
        } catch (x) {
          return x;
        }
      })();
      expect(e, `capacity ${String(cap)}`).toBeInstanceOf(RangeError);
      expect((e as { code: string }).code).toBe('ERR_SPINDLE_INVALID_ARG');
    }
    expect(() => mpsc.channel(0)).toThrow(/capacity 1, or a oneshot/);
    const [tx, rx] = mpsc.channel<unknown>(4);
    expect(() => tx.trySend({ cb: () => 1 })).toThrow(/trySend\(value\) \(at \.cb\) is a function/);
    await expect(tx.send({ deep: [{ f: Symbol('s') }] })).rejects.toThrow(/send\(value\) \(at \.deep\[0\]\.f\) is a symbol/);
    expect(rx.len()).toBe(0);
    const h = rt.spawn(t.consumeSync, rx as mpsc.Receiver<number>);
    expect(() => rx.recv()).toThrow(HandleStateError);
    expect(() => rx.recv()).toThrow(/moved/);
    const tx2 = tx.clone();
    tx.drop();
    expect(() => tx.trySend(1)).toThrow(/already dropped/);
    expect(() => tx.drop()).toThrow(HandleStateError);
    await tx2.send(5);
    tx2.drop();
    expect(await h).toBe(1);
  });

  it('frees everything: a drained, dropped channel leaves the heap as it was', async () => {
    const heap = globalHeap();
    const before = heap.stats().inUse;
    const [tx, rx] = mpsc.channel<string>(1000);
    for (let i = 0; i < 1000; i++) {
      await tx.send(i % 10 === 0 ? 'long '.repeat(50) : `m${i}`);
      if (i % 3 === 0) await rx.recv();
    }
    tx.drop();
    rx.drop(); // 667 values still queued, long ones out of line: all freed
    expect(heap.stats().inUse).toBe(before);
  });
});
