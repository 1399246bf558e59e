/** `Listener`: the handle `Runtime.listen()` resolves with. */

import { rangeError } from '../errors.js';

/** @internal What a Listener asks of the runtime's server hub. */
export interface ListenerHost {
  close(id: number, timeout: number): Promise<void>;
}

/** Options for {@link Listener.close}. */
export interface CloseOptions {
  /** Milliseconds open connections may take to finish before they are destroyed; default: the listener's `closeTimeout`. */
  timeout?: number;
}

/**
 * A TCP listener whose connections are accepted on the runtime's workers:
 * every worker accepts from the same socket, and each connection runs as a
 * connection task on the worker that accepted it. While it is open it keeps
 * the process alive, as a `net.Server` does.
 *
 * ```ts
 * const server = await rt.listen({ port: 7000 }, echo);
 * console.log(`listening on ${server.host}:${server.port}`);
 * await server.close();   // stop accepting, let connections finish, then resolve
 * ```
 */
export class Listener implements AsyncDisposable {
  #closing: Promise<void> | null = null;

  /** @internal */
  constructor(
    private readonly hub: ListenerHost,
    /** @internal */
    readonly id: number,
    /** The address bound (`127.0.0.1` unless a host was given). */
    readonly host: string,
    /** The port bound: the one asked for, or the one the system picked for port 0. */
    readonly port: number,
    private readonly closeTimeout: number,
  ) {}

  /**
   * Stops accepting on every worker, lets open connections finish — their
   * tasks return and their sockets close — for `timeout` ms, then destroys
   * what is left. Resolves when no connection of this listener is open on any
   * worker. Calling it again returns the same promise.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const timeout = options.timeout ?? this.closeTimeout;
    if (typeof timeout !== 'number' || !(timeout >= 0)) {
      return Promise.reject(rangeError(`spindle: option timeout must be a number of milliseconds ≥ 0 (Infinity: no limit), got ${String(timeout)}`));
    }
    this.#closing ??= this.hub.close(this.id, timeout);
    return this.#closing;
  }

  /** `close()` with the listener's `closeTimeout`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
