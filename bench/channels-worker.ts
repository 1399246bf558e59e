// Worker side of bench/channels.ts: one end of a one-way stream or a round-trip server,
// over a MessagePort or over spindle channels (attached to the main thread's heap).
import { MessageChannel, parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { expose } from 'comlink';
import { reviverFor } from '../src/shared/handle.js';
import { SharedHeap, setGlobalHeap } from '../src/shared/heap.js';
import { mpsc, type oneshot } from '../src/channel/index.js';
import type { Endpoint } from '../src/channel/endpoint.js';
import { serve } from '../src/comlink.js';
import { makeValue, nodeEndpoint, streamClock, type ValueKind } from './channel-values.js';

interface Job {
  op: string;
  heap: SharedArrayBuffer;
  /** Messages timed. */
  n: number;
  /** Messages sent before them, untimed (see STREAM_WARM in channels.ts). */
  warm: number;
  kind: ValueKind;
  port?: MessagePort;
  handle?: { kind: string; offset: number };
  go: Int32Array;
}
const job = workerData as Job;
const heap = SharedHeap.fromBuffer(job.heap);
setGlobalHeap(heap);
const revive = <T>(): T => reviverFor(job.handle!.kind)(heap, job.handle!.offset) as T;
const post = (m: unknown): void => parentPort!.postMessage(m);

function waitGo(): void {
  post('ready');
  while (Atomics.load(job.go, 0) === 0) Atomics.wait(job.go, 0, 0, 1000);
}

/**
 * How long each stream worker runs the stream code paths before the timed run,
 * every implementation alike: a spindle channel and a MessagePort within this
 * thread, the same calls the timed loops make. Every round starts fresh
 * workers, and without this a stream's figure is partly V8's tiers catching up
 * (a MessagePort's hot path is C++, a channel's is JavaScript).
 */
const WARM_MS = 300;

async function warmStreams(kind: ValueKind): Promise<void> {
  const vals = Array.from({ length: 512 }, (_, i) => makeValue(kind, i));
  const [tx, rx] = mpsc.channel<unknown>(1024);
  const it = rx[Symbol.asyncIterator]();
  const { port1, port2 } = new MessageChannel();
  let got = 0;
  port2.on('message', () => got++);
  for (const end = performance.now() + WARM_MS; performance.now() < end; ) {
    for (const v of vals) await tx.send(v);
    for (let i = 0; i < vals.length; i++) await it.next();
    for (const v of vals) tx.sendSync(v);
    for (let i = 0; i < vals.length; i++) await it.next();
    for (const v of vals) port1.postMessage(v);
    while (got < vals.length) await new Promise(setImmediate);
    got = 0;
  }
  tx.drop();
  rx.drop();
  port1.close();
}

/** A counter object served by comlink (the RPC round trip's callee). */
const counter = {
  n: 0,
  add(k: number): number {
    return (this.n += k);
  },
};

const ops: Record<string, () => unknown> = {
  async portProduce() {
    await warmStreams(job.kind);
    const port = job.port ?? parentPort!;
    const vals = Array.from({ length: 1024 }, (_, i) => makeValue(job.kind, i));
    waitGo();
    for (let i = 0, end = job.warm + job.n; i < end; i++) port.postMessage(vals[i & 1023]);
  },
  async portConsume() {
    await warmStreams(job.kind);
    const port = job.port!;
    const clock = streamClock(job.warm, job.n);
    port.on('message', () => {
      if (clock.tick()) {
        post(clock.ms());
        port.close();
      }
    });
    post('ready');
  },
  portEcho() {
    parentPort!.on('message', (m) => parentPort!.postMessage(m));
    post('ready');
  },
  async spindleProduce() {
    await warmStreams(job.kind);
    const tx = revive<mpsc.Sender<unknown>>();
    const vals = Array.from({ length: 1024 }, (_, i) => makeValue(job.kind, i));
    waitGo();
    for (let i = 0, end = job.warm + job.n; i < end; i++) await tx.send(vals[i & 1023]);
    tx.drop();
  },
  async spindleProduceSync() {
    await warmStreams(job.kind);
    const tx = revive<mpsc.Sender<unknown>>();
    const vals = Array.from({ length: 1024 }, (_, i) => makeValue(job.kind, i));
    waitGo();
    for (let i = 0, end = job.warm + job.n; i < end; i++) tx.sendSync(vals[i & 1023]);
    tx.drop();
  },
  async spindleConsume() {
    await warmStreams(job.kind);
    const rx = revive<mpsc.Receiver<unknown>>();
    post('ready');
    const clock = streamClock(job.warm, job.n);
    let n = 0;
    for await (const _ of rx) {
      n++;
      clock.tick();
    }
    rx.drop();
    post(n === job.warm + job.n ? clock.ms() : `lost: ${n - job.warm} of ${job.n}`);
  },
  async spindleOneshotServer() {
    const rx = revive<mpsc.Receiver<[number, oneshot.Sender<number>]>>();
    post('ready');
    for await (const [x, reply] of rx) reply.send(x + 1);
    rx.drop();
  },
  comlinkPort() {
    expose(counter, nodeEndpoint(parentPort!) as never);
    post('ready');
  },
  async comlinkSpindle() {
    const ep = revive<Endpoint>();
    post('ready');
    await serve(counter, ep);
  },
};

await ops[job.op]!();
