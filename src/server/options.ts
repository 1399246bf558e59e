/** `Runtime.listen()` options, validated in one place (as src/options.ts does for the runtime's). */
import { ERR_OPTION, rangeError, typeError } from '../errors.js';

/**
 * Where and how a {@link Listener} accepts connections on the runtime's workers.
 *
 * @example
 * ```ts
 * const server = await rt.listen({ port: 7000 }, echo);                 // 127.0.0.1:7000
 * const open = await rt.listen({ port: 0, host: '0.0.0.0', maxConnections: 2000 }, serve);
 * ```
 */
export interface ListenOptions {
  /** TCP port, an integer from 0 to 65535; 0 picks a free one (read it back from `listener.port`). */
  port: number;
  /**
   * Address to bind. Default `127.0.0.1`: only this machine can connect. Give
   * `0.0.0.0` or `::` explicitly to accept from the network — the examples
   * (mini-redis has no authentication, as Redis in protected mode) never do
   * that on their own.
   */
  host?: string;
  /** Connections open at once across all workers; one more is closed as soon as it is accepted. Integer from 1 to 1,000,000. Default 10,000. */
  maxConnections?: number;
  /** The kernel's accept queue length (`listen(2)` backlog). Integer from 1 to 65535. Default 511, as Node's. */
  backlog?: number;
  /** Milliseconds `close()` waits for open connections to finish before destroying them. A number ≥ 0 (`Infinity`: wait forever). Default 5000. */
  closeTimeout?: number;
}

/** `listen()`'s options once checked, with every default filled in (what the workers receive). */
export interface ResolvedListenOptions {
  port: number;
  host: string;
  maxConnections: number;
  backlog: number;
  closeTimeout: number;
}

const KNOWN = ['port', 'host', 'maxConnections', 'backlog', 'closeTimeout'];

const isInt = (n: unknown, lo: number, hi: number): n is number =>
  typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi;

/** @internal Checks `listen()` options; every error names the option, the rule and what it got. */
export function resolveListenOptions(o: ListenOptions): ResolvedListenOptions {
  if (typeof o !== 'object' || o === null) throw typeError(ERR_OPTION('listen options', 'an object such as { port: 7000 }', o));
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k)) throw typeError(`spindle: unknown listen option '${k}' (expected ${KNOWN.join(', ')})`);
  }
  if (!isInt(o.port, 0, 65535)) throw rangeError(ERR_OPTION('port', 'an integer from 0 to 65535 (0: any free port)', o.port));
  const host = o.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw typeError(ERR_OPTION('host', "an address or host name such as '127.0.0.1'", o.host));
  const maxConnections = o.maxConnections ?? 10_000;
  if (!isInt(maxConnections, 1, 1_000_000)) throw rangeError(ERR_OPTION('maxConnections', 'an integer from 1 to 1000000', maxConnections));
  const backlog = o.backlog ?? 511;
  if (!isInt(backlog, 1, 65535)) throw rangeError(ERR_OPTION('backlog', 'an integer from 1 to 65535', backlog));
  const closeTimeout = o.closeTimeout ?? 5000;
  if (typeof closeTimeout !== 'number' || !(closeTimeout >= 0)) {
    throw rangeError(ERR_OPTION('closeTimeout', 'a number of milliseconds ≥ 0 (Infinity: no limit)', closeTimeout));
  }
  return { port: o.port, host, maxConnections, backlog, closeTimeout };
}
