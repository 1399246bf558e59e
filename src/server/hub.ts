/**
 * The main thread's side of listeners: it binds the socket, hands each worker
 * a descriptor of its own and the command to listen, gathers their answers,
 * and follows worker deaths (the dead worker's connections are gone with it;
 * its replacement is told to listen again).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { ErrorCode, SpindleError } from '../errors.js';
import type { Core } from '../shared/core.js';
import { encodeStored } from '../shared/codec.js';
import { globalHeap } from '../shared/heap.js';
import { codeKeyOf } from '../task.js';
import { SocketSource } from './descriptors.js';
import { Listener } from './listener.js';
import type { ResolvedListenOptions } from './options.js';
import { SRV_ACCEPTED, SRV_OPEN, SRV_OPEN_ALL, SRV_SEQ, serverWords, workerWord, type ServerCommand, type ServerReport } from './protocol.js';

type WorkerState = 'starting' | 'listening' | 'closed';

interface Entry {
  id: number;
  source: SocketSource;
  code: number;
  args: Uint8Array;
  opts: ResolvedListenOptions;
  state: 'starting' | 'open' | 'closing' | 'closed';
  workers: Map<number, WorkerState>;
  started: { resolve: () => void; reject: (e: Error) => void };
  closed: Promise<void>;
  resolveClosed: () => void;
  /** Keeps the process alive while the listener is open, as a net.Server does. */
  keepAlive: NodeJS.Timeout;
  timeout: number;
}

let nextId = 1;

/** Connection counters of one worker. */
export interface ConnectionCounts {
  accepted: number;
  open: number;
}

/** The main thread's listeners of one runtime (the engine owns one). */
export class ServerHub {
  readonly words: SharedArrayBuffer;
  readonly #w: Int32Array;
  readonly #ports: (MessagePort | undefined)[] = [];
  readonly #entries = new Map<number, Entry>();

  constructor(
    private readonly core: Core,
    private readonly workers: number,
  ) {
    this.words = new SharedArrayBuffer(serverWords(workers) * 4);
    this.#w = new Int32Array(this.words);
  }

  /** Worker w starts (first time or as a replacement): its channel; open listeners are re-sent to it. */
  channel(w: number): { port: MessagePort; words: SharedArrayBuffer } {
    this.#ports[w]?.close();
    const { port1, port2 } = new MessageChannel();
    port1.on('message', (r: ServerReport) => this.#report(w, r));
    port1.unref(); // a listener's own timer keeps the process alive, not the channel
    this.#ports[w] = port1;
    for (const e of this.#entries.values()) if (e.state === 'open') void this.#startOn(e, w);
    return { port: port2, words: this.words };
  }

  /** Worker w died: its connections died with it. */
  died(w: number): void {
    const open = Atomics.exchange(this.#w, workerWord(w, SRV_OPEN), 0);
    Atomics.sub(this.#w, SRV_OPEN_ALL, open);
    this.#ports[w]?.close();
    this.#ports[w] = undefined;
    for (const e of this.#entries.values()) {
      if (e.state === 'starting' && e.workers.get(w) === 'starting') {
        e.started.reject(new SpindleError(ErrorCode.LISTEN_FAILED, `spindle: listen(): worker ${w} died while it started listening`));
      }
      e.workers.set(w, 'closed');
      this.#checkClosed(e);
    }
  }

  counts(w: number): ConnectionCounts {
    return { accepted: Atomics.load(this.#w, workerWord(w, SRV_ACCEPTED)), open: Atomics.load(this.#w, workerWord(w, SRV_OPEN)) };
  }

  async listen(opts: ResolvedListenOptions, task: unknown, args: unknown[]): Promise<Listener> {
    const code = this.core.codes.idOf(codeKeyOf(task));
    const bytes = encodeStored(args, globalHeap(), 'listen() argument').slice();
    const source = await SocketSource.bind(opts.host, opts.port);
    let resolveClosed!: () => void;
    const closed = new Promise<void>((r) => (resolveClosed = r));
    let started!: Entry['started'];
    const ready = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    const e: Entry = {
      id: nextId++,
      source,
      code,
      args: bytes,
      opts,
      state: 'starting',
      workers: new Map(),
      started,
      closed,
      resolveClosed,
      keepAlive: setInterval(() => {}, 1 << 30),
      timeout: opts.closeTimeout,
    };
    this.#entries.set(e.id, e);
    for (let w = 0; w < this.workers; w++) void this.#startOn(e, w);
    try {
      await ready;
    } catch (err) {
      await this.close(e.id, 0);
      throw err;
    }
    e.state = 'open';
    return new Listener(this, e.id, source.host, source.port, opts.closeTimeout);
  }

  async #startOn(e: Entry, w: number): Promise<void> {
    const port = this.#ports[w];
    if (port === undefined) return;
    e.workers.set(w, 'starting');
    let fd: number;
    try {
      fd = await e.source.dup();
    } catch (err) {
      this.#failed(e, w, (err as Error).message);
      return;
    }
    // The worker may have died, or the listener closed, while the descriptor travelled.
    if (this.#ports[w] !== port || e.state === 'closing' || e.state === 'closed') {
      e.workers.set(w, 'closed');
      this.#checkClosed(e);
      return;
    }
    const { id, code, args, opts } = e;
    this.#send(w, { t: 'listen', id, fd, code, args, maxConnections: opts.maxConnections, backlog: opts.backlog });
  }

  #send(w: number, c: ServerCommand): void {
    const port = this.#ports[w];
    if (port === undefined) return;
    port.postMessage(c);
    // After the post: a worker that reads the new sequence finds the command (protocol.ts).
    Atomics.add(this.#w, workerWord(w, SRV_SEQ), 1);
    this.core.idle.wake(w);
  }

  #report(w: number, r: ServerReport): void {
    const e = this.#entries.get(r.id);
    if (e === undefined) return;
    if (r.t === 'listening') {
      if (e.workers.get(w) === 'starting') e.workers.set(w, 'listening');
      if (e.state === 'starting' && [...e.workers.values()].every((s) => s === 'listening')) e.started.resolve();
      if (e.state === 'closing') this.#send(w, { t: 'close', id: e.id, timeout: e.timeout });
    } else if (r.t === 'failed') {
      this.#failed(e, w, r.message);
    } else {
      e.workers.set(w, 'closed');
      this.#checkClosed(e);
    }
  }

  #failed(e: Entry, w: number, message: string): void {
    e.workers.set(w, 'closed');
    const text = `spindle: listen() on ${e.opts.host}:${e.source.port}: worker ${w} cannot listen: ${message}`;
    if (e.state === 'starting') e.started.reject(new SpindleError(ErrorCode.LISTEN_FAILED, text));
    else if (e.state === 'open') process.stderr.write(`${text}\n`); // a replacement: the others still serve
    this.#checkClosed(e);
  }

  close(id: number, timeout: number): Promise<void> {
    const e = this.#entries.get(id)!;
    if (e.state === 'closing' || e.state === 'closed') return e.closed;
    e.state = 'closing';
    e.timeout = timeout;
    for (const [w, s] of e.workers) if (s === 'listening') this.#send(w, { t: 'close', id, timeout });
    // Workers still starting are told when they report 'listening' (#report).
    this.#checkClosed(e);
    return e.closed;
  }

  #checkClosed(e: Entry): void {
    if (e.state !== 'closing') return;
    for (const s of e.workers.values()) if (s !== 'closed') return;
    e.state = 'closed';
    e.source.close();
    clearInterval(e.keepAlive);
    this.#entries.delete(e.id);
    e.resolveClosed();
  }

  /** Closes every listener (graceful shutdown). */
  closeAll(): Promise<void> {
    return Promise.all([...this.#entries.values()].map((e) => this.close(e.id, e.timeout))).then(() => {});
  }

  /** The workers are being terminated: nothing to wait for. */
  abandon(): void {
    for (const e of this.#entries.values()) {
      e.state = 'closing';
      for (const w of e.workers.keys()) e.workers.set(w, 'closed');
      this.#checkClosed(e);
    }
  }
}
