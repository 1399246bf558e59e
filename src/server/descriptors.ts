/**
 * One listening socket, a descriptor of it for each worker thread.
 *
 * Why duplicates: every worker must own its descriptor. Node closes a handle's
 * descriptor when the thread that holds it ends, so workers that listened on
 * one shared number would lose the socket together when any one of them died,
 * and the libuv loops still polling that number abort the whole process
 * (checked on Node 20: `uv__server_io: Assertion 'events & POLLIN' failed`).
 * Node has no `dup()`, but a descriptor sent over an IPC pipe arrives as a new
 * one (SCM_RIGHTS, the way `cluster` hands sockets to its workers): a small
 * child process sends the socket back to us once per worker start.
 *
 * Why bound but not listening here: the main thread must not accept. The
 * socket is bound on the main thread (so bind errors surface in `listen()` and
 * port 0 resolves once), and `listen(2)` happens when a worker listens on its
 * duplicate; the main thread never polls it.
 *
 * Node ≥ 22.12 has `reusePort`, which would give each worker a socket of its
 * own too; it is not used, so that one path (this one) runs, and is tested, on
 * Node 20, 22 and 24 alike.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import os from 'node:os';
import { getSystemErrorName } from 'node:util';
import { ErrorCode, SpindleError } from '../errors.js';

interface TcpHandle {
  readonly fd: number;
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  getsockname(out: { address?: string; port?: number; family?: string }): number;
  close(): void;
}
interface TcpBinding {
  TCP: new (type: number) => TcpHandle;
  constants: { SERVER: number };
}

const ERR_ADDRINUSE = (os.constants.errno.EADDRINUSE ?? 98) * -1;

/** The child that sends each socket it receives straight back: a new descriptor each time. */
const BROKER = [
  "process.on('message', (m, h) => { process.send(m, h, () => h.close()); });",
  "process.on('disconnect', () => process.exit(0));",
].join('\n');

const unsupported = (why: string): SpindleError =>
  new SpindleError(
    ErrorCode.LISTEN_FAILED,
    `spindle: listen() cannot share a listening socket between worker threads here: ${why}. ` +
      'It needs a POSIX platform (Linux, macOS, BSD) where Node can pass descriptors between processes; ' +
      'on this one, run one node:net server per process (node:cluster) instead.',
  );

function tcpBinding(): TcpBinding {
  if (process.platform === 'win32') throw unsupported('Windows has no descriptors to duplicate');
  try {
    // process.binding is deprecated for general use, but it is the only way to bind without listening.
    return (process as unknown as { binding(name: string): TcpBinding }).binding('tcp_wrap');
  } catch (e) {
    throw unsupported(`this Node.js does not expose tcp_wrap (${(e as Error).message})`);
  }
}

/** A bound TCP socket and the means to give each worker its own descriptor of it. */
export class SocketSource {
  readonly #handle: TcpHandle;
  #broker: ChildProcess | null = null;
  readonly #waiting: { resolve: (fd: number) => void; reject: (e: Error) => void }[] = [];
  /**
   * The main thread's wrappers of the duplicates it handed to workers. Never
   * closed: the worker closes that descriptor, and the number may belong to
   * another socket by then, so closing ours could close someone else's.
   */
  readonly #handedOver: TcpHandle[] = [];
  #closed = false;

  private constructor(
    handle: TcpHandle,
    readonly host: string,
    readonly port: number,
  ) {
    this.#handle = handle;
  }

  /** Binds `host:port` (a name is looked up first). Fails with `ERR_SPINDLE_LISTEN_FAILED` naming the address and the system error. */
  static async bind(host: string, port: number): Promise<SocketSource> {
    const binding = tcpBinding();
    let address = host;
    if (isIP(host) === 0) {
      try {
        address = (await lookup(host)).address;
      } catch (e) {
        throw new SpindleError(ErrorCode.LISTEN_FAILED, `spindle: listen(): cannot resolve host '${host}': ${(e as Error).message}`, { cause: e });
      }
    }
    const h = new binding.TCP(binding.constants.SERVER);
    let err = isIP(address) === 6 ? h.bind6(address, port, 0) : h.bind(address, port);
    const out: { address?: string; port?: number } = {};
    // libuv defers EADDRINUSE from bind to listen; unbound, the socket says port 0.
    if (err === 0 && (h.getsockname(out) !== 0 || out.port === 0 || (port !== 0 && out.port !== port))) err = ERR_ADDRINUSE;
    if (err !== 0) {
      h.close();
      const name = getSystemErrorName(err);
      const hint =
        name === 'EADDRINUSE'
          ? 'something else listens there: pick another port, or stop it'
          : name === 'EACCES'
            ? 'ports below 1024 need privileges: pick a higher port'
            : name === 'EADDRNOTAVAIL'
              ? 'this machine has no such address: use 127.0.0.1, 0.0.0.0 or one of its own'
              : 'see bind(2)';
      throw new SpindleError(ErrorCode.LISTEN_FAILED, `spindle: listen(): cannot bind ${host}:${port}: ${name} (${hint})`);
    }
    return new SocketSource(h, out.address ?? address, out.port ?? port);
  }

  /** A new descriptor of the socket, for one worker to listen on and own. */
  dup(): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('spindle: listener closed'));
    const broker = this.#startBroker();
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      broker.channel?.ref();
      broker.send('dup', this.#handle as never, (e) => {
        if (e) this.#fail(e);
      });
    });
  }

  #startBroker(): ChildProcess {
    if (this.#broker !== null) return this.#broker;
    const env = { ...process.env };
    delete env['NODE_OPTIONS']; // the broker needs no loader, and starts faster without one
    const broker = spawn(process.execPath, ['-e', BROKER], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], env });
    broker.on('message', (_m, handle: TcpHandle) => {
      const w = this.#waiting.shift();
      if (w === undefined || this.#closed) {
        handle.close(); // nobody will listen on it: it is ours to close
        return;
      }
      this.#handedOver.push(handle);
      if (this.#waiting.length === 0) broker.channel?.unref();
      w.resolve(handle.fd);
    });
    broker.on('error', (e) => this.#fail(e));
    broker.on('exit', (code) => {
      if (this.#broker === broker) this.#broker = null;
      if (this.#waiting.length > 0) this.#fail(new Error(`the descriptor helper process exited (code ${code})`));
    });
    broker.unref();
    broker.channel?.unref();
    this.#broker = broker;
    return broker;
  }

  #fail(e: Error): void {
    const err = new SpindleError(ErrorCode.LISTEN_FAILED, `spindle: listen(): cannot duplicate the listening socket for a worker: ${e.message}`, { cause: e });
    for (const w of this.#waiting.splice(0)) w.reject(err);
  }

  /** Releases the main thread's socket and the helper; workers close their own descriptors. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#handle.close();
    this.#broker?.disconnect();
    this.#broker = null;
    this.#fail(new Error('listener closed'));
  }
}
