/**
 * A worker's side of `Runtime.listen()`: it listens on its own descriptor of
 * the shared socket (src/server/descriptors.ts), and runs each connection it
 * accepts as a connection task on this thread — pinned, never stolen, since
 * the socket belongs to this thread's event loop (tokio's `!Send` tasks on a
 * `LocalSet`). What the task spawns goes to the deques as usual.
 */
import { closeSync } from 'node:fs';
import type { Server, Socket } from 'node:net';
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import type { Core } from '../src/shared/core.js';
import {
  SRV_ACCEPTED,
  SRV_OPEN,
  SRV_OPEN_ALL,
  SRV_SEQ,
  workerWord,
  type ServerCommand,
  type ServerReport,
} from '../src/server/protocol.js';
import type { Modules } from './modules.js';

interface Conn {
  socket: Socket;
  settled: boolean;
  closed: boolean;
}

interface Listening {
  id: number;
  server: Server | null;
  fn: ((socket: Socket, ...args: unknown[]) => unknown) | null;
  args: unknown[];
  maxConnections: number;
  conns: Set<Conn>;
  closing: boolean;
  /** Set when close()'s timeout has passed: a closed socket is enough, its task need not have returned. */
  forced: boolean;
  timer: NodeJS.Timeout | undefined;
}

const noop = (): void => {};

/** This worker's listeners and their connections. */
export class WorkerServers {
  readonly #listeners = new Map<number, Listening>();
  #seen = -1;
  #open = 0;
  readonly #seq: number;

  constructor(
    private readonly index: number,
    private readonly core: Core,
    private readonly port: MessagePort,
    private readonly words: Int32Array,
    private readonly modules: Modules,
  ) {
    this.#seq = workerWord(index, SRV_SEQ);
  }

  /** True when a command may be waiting on the port. */
  pending(): boolean {
    return Atomics.load(this.words, this.#seq) !== this.#seen;
  }

  /** While true the worker must keep its event loop turning (park with waitAsync): sockets live on it. */
  get holdsLoop(): boolean {
    return this.#listeners.size > 0;
  }

  /** Runs the commands waiting on the port. */
  poll(): void {
    // The sequence is read before draining: a command posted after this read bumps it again.
    this.#seen = Atomics.load(this.words, this.#seq);
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      const c = m.message as ServerCommand;
      if (c.t === 'listen') void this.#listen(c);
      else this.#close(c.id, c.timeout);
    }
  }

  #report(r: ServerReport): void {
    this.port.postMessage(r);
  }

  async #listen(c: Extract<ServerCommand, { t: 'listen' }>): Promise<void> {
    const l: Listening = {
      id: c.id,
      server: null,
      fn: null,
      args: [],
      maxConnections: c.maxConnections,
      conns: new Set(),
      closing: false,
      forced: false,
      timer: undefined,
    };
    // Registered before the first await: the loop must not block its event loop while the module loads.
    this.#listeners.set(c.id, l);
    try {
      const got = this.modules.get(c.code);
      l.fn = (typeof got === 'function' ? got : await got) as Listening['fn'];
      const args = this.core.dec.decodeValue(c.args, new DataView(c.args.buffer, c.args.byteOffset, c.args.byteLength), 0);
      l.args = args as unknown[];
      // node:net is loaded on first use: a worker that never serves pays nothing for it
      // (loaded at start it grew every worker's young generation from 4 to 8 MB).
      const { createServer } = await import('node:net');
      if (l.closing) throw new Error('closed while starting');
      const server = createServer({ noDelay: true });
      l.server = server;
      server.on('connection', (s: Socket) => this.#accept(l, s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ fd: c.fd, backlog: c.backlog }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      // A later accept error (EMFILE, ...) must not end the worker; the server keeps listening.
      server.on('error', (e) => process.stderr.write(`spindle: worker ${this.index}: listener ${c.id}: ${e.message}\n`));
      if (l.closing) {
        server.close();
        this.#maybeClosed(l);
        return;
      }
      this.#report({ t: 'listening', id: c.id });
    } catch (e) {
      if (l.server === null || !l.server.listening) {
        try {
          closeSync(c.fd); // ours, and nobody listens on it
        } catch {
          // Already closed with the failed handle.
        }
      }
      this.#listeners.delete(c.id);
      this.#report({ t: 'failed', id: c.id, message: (e as Error)?.message ?? String(e) });
      if (l.closing) this.#report({ t: 'closed', id: c.id });
    }
  }

  #accept(l: Listening, socket: Socket): void {
    const words = this.words;
    if (l.closing || Atomics.add(words, SRV_OPEN_ALL, 1) >= l.maxConnections) {
      if (!l.closing) Atomics.sub(words, SRV_OPEN_ALL, 1);
      socket.destroy();
      return;
    }
    Atomics.add(words, workerWord(this.index, SRV_ACCEPTED), 1);
    Atomics.store(words, workerWord(this.index, SRV_OPEN), ++this.#open);
    // An 'error' nobody listens to would be thrown and end the worker with every connection on it.
    socket.on('error', noop);
    const conn: Conn = { socket, settled: false, closed: false };
    l.conns.add(conn);
    socket.once('close', () => {
      conn.closed = true;
      this.#gone(l, conn);
    });
    let r: unknown;
    try {
      r = l.fn!(socket, ...l.args);
    } catch (e) {
      r = Promise.reject(e);
    }
    Promise.resolve(r).then(
      () => this.#settled(l, conn),
      (e: unknown) => {
        const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
        process.stderr.write(`spindle: connection task ${l.fn!.name || '(anonymous)'} on worker ${this.index} failed: ${text}\n`);
        socket.destroy();
        this.#settled(l, conn);
      },
    );
  }

  #settled(l: Listening, conn: Conn): void {
    conn.settled = true;
    const s = conn.socket;
    if (!s.destroyed) {
      // The task is done with it: flush what it wrote, and read on so that the peer's FIN is seen and 'close' comes.
      s.end();
      s.resume();
    }
    this.#gone(l, conn);
  }

  #gone(l: Listening, conn: Conn): void {
    if (!conn.closed || !(conn.settled || l.forced) || !l.conns.delete(conn)) return;
    Atomics.sub(this.words, SRV_OPEN_ALL, 1);
    Atomics.store(this.words, workerWord(this.index, SRV_OPEN), --this.#open);
    if (l.closing) this.#maybeClosed(l);
  }

  #close(id: number, timeout: number): void {
    const l = this.#listeners.get(id);
    if (l === undefined) {
      this.#report({ t: 'closed', id });
      return;
    }
    if (l.closing) return;
    l.closing = true;
    if (l.server === null) return; // still starting: #listen finishes the close
    l.server.close();
    if (timeout !== Infinity) {
      l.timer = setTimeout(() => {
        l.forced = true;
        for (const c of l.conns) {
          c.socket.destroy();
          this.#gone(l, c);
        }
      }, timeout);
    }
    this.#maybeClosed(l);
  }

  #maybeClosed(l: Listening): void {
    if (l.conns.size > 0 || !this.#listeners.has(l.id)) return;
    clearTimeout(l.timer);
    this.#listeners.delete(l.id);
    this.#report({ t: 'closed', id: l.id });
  }
}
