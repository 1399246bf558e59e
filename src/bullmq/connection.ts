/**
 * Redis connections for spindle/bullmq: what `connection` may be, the
 * connections spindle opens itself, and a watch that turns "Redis has not
 * answered for `redisTimeout` ms" into one clear error.
 */
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ErrorCode, SpindleError, typeError } from '../errors.js';

/** A Redis URL (`redis://host:port/db`, `rediss://…`), ioredis options, or an ioredis client (its options are used). */
export type RedisConnection = string | RedisOptions | Redis;

export interface ResolvedConnection {
  /** What to give BullMQ (it opens its own connections from it). */
  bull: ConnectionOptions;
  /** Where, for messages (no password). */
  where: string;
  /** Opens a connection of spindle's own. */
  open(name: string): Redis;
}

const retryStrategy = (times: number): number => Math.min(100 * times, 2000);

export function resolveConnection(c: unknown, who: string): ResolvedConnection {
  let url: string | undefined;
  let opts: RedisOptions;
  if (typeof c === 'string') {
    if (!/^rediss?:\/\//.test(c)) throw typeError(`spindle/bullmq: ${who}: connection must be a redis:// or rediss:// URL, ioredis options or an ioredis client, got ${JSON.stringify(c)}`);
    url = c;
    opts = {};
  } else if (c instanceof Redis) {
    opts = { ...(c.options as RedisOptions) };
  } else if (typeof c === 'object' && c !== null && !Array.isArray(c)) {
    const o = c as RedisOptions & { url?: unknown };
    if (o.url !== undefined) {
      if (typeof o.url !== 'string') throw typeError(`spindle/bullmq: ${who}: connection.url must be a string`);
      url = o.url;
    }
    opts = { ...o };
    delete (opts as { url?: unknown }).url;
  } else {
    throw typeError(`spindle/bullmq: ${who}: connection must be a redis:// URL, ioredis options or an ioredis client, got ${c === null ? 'null' : typeof c}`);
  }
  if (opts.keyPrefix) throw typeError(`spindle/bullmq: ${who}: ioredis keyPrefix is not supported by BullMQ; use the prefix option`);
  const where = url !== undefined ? url.replace(/\/\/[^@/]*@/, '//***@') : `redis://${opts.host ?? '127.0.0.1'}:${opts.port ?? 6379}`;
  return {
    // BullMQ's own connections: reconnect as quickly as spindle's (BullMQ's default waits 1–20 s between tries).
    bull: (url !== undefined ? { retryStrategy, ...opts, url } : { retryStrategy, ...opts }) as ConnectionOptions,
    where,
    open(name: string): Redis {
      const own: RedisOptions = {
        ...opts,
        connectionName: name,
        // Commands wait for a reconnection instead of failing after a retry count;
        // the watch below is what gives up, with a clear error.
        maxRetriesPerRequest: null,
        retryStrategy,
      };
      const r = url !== undefined ? new Redis(url, own) : new Redis(own);
      r.on('error', () => {}); // reported through RedisWatch
      return r;
    },
  };
}

export const ERR_UNREACHABLE = (where: string, ms: number, why: string | undefined): string =>
  `spindle/bullmq: cannot reach Redis at ${where} within ${ms} ms${why ? ` (${why})` : ''}. ` +
  'Start redis-server there, or pass the right connection.';
export const ERR_GONE = (where: string, ms: number, why: string | undefined, pending: number): string =>
  `spindle/bullmq: lost Redis at ${where} for more than ${ms} ms${why ? ` (${why})` : ''}; ${pending} waiting handle(s) rejected. ` +
  'Their jobs stay in Redis and may still run (at-least-once); spawns fail until Redis answers again.';

/**
 * Watches one connection: `up` while it is ready; `onDown(error)` when it has
 * not been ready for `timeout` ms (from the start, or since it was lost);
 * `onUp()` when it is ready again.
 */
export class RedisWatch {
  up = false;
  everUp = false;
  lastError: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(
    readonly client: Redis,
    readonly where: string,
    readonly timeout: number,
    private readonly onDown: (e: SpindleError) => void,
    private readonly onUp: () => void,
  ) {
    client.on('error', (e: Error) => {
      this.lastError = (e as { code?: string }).code ?? e.message;
    });
    client.on('ready', () => {
      this.up = true;
      this.everUp = true;
      this.lastError = undefined;
      clearTimeout(this.#timer);
      this.#timer = undefined;
      if (!this.#stopped) this.onUp();
    });
    client.on('close', () => this.#lost());
    client.on('end', () => this.#lost());
    if (client.status === 'ready') {
      this.up = this.everUp = true;
    } else this.#arm();
  }

  #lost(): void {
    if (this.#stopped) return;
    this.up = false;
    if (this.#timer === undefined) this.#arm();
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (!this.up && !this.#stopped) this.onDown(this.error(0));
    }, this.timeout);
    this.#timer.unref();
  }

  /** The error for "Redis is gone" with `pending` handles rejected. */
  error(pending: number): SpindleError {
    return new SpindleError(
      ErrorCode.REDIS_UNAVAILABLE,
      this.everUp ? ERR_GONE(this.where, this.timeout, this.lastError, pending) : ERR_UNREACHABLE(this.where, this.timeout, this.lastError),
    );
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}

/** Resolves once `client` is ready; rejects with REDIS_UNAVAILABLE after `timeout` ms. */
export function whenReady(client: Redis, where: string, timeout: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    let why: string | undefined;
    const onErr = (e: Error): void => {
      why = (e as { code?: string }).code ?? e.message;
    };
    const done = (): void => {
      clearTimeout(timer);
      client.off('error', onErr);
      client.off('ready', onReady);
    };
    const onReady = (): void => {
      done();
      resolve();
    };
    const timer = setTimeout(() => {
      done();
      reject(new SpindleError(ErrorCode.REDIS_UNAVAILABLE, ERR_UNREACHABLE(where, timeout, why)));
    }, timeout);
    client.on('error', onErr);
    client.once('ready', onReady);
  });
}

export function checkMs(v: unknown, name: string, who: string, min = 1): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) {
    throw typeError(`spindle/bullmq: ${who}: ${name} must be a number ≥ ${min}, got ${typeof v === 'number' ? v : typeof v}`);
  }
  return v;
}

export function checkQueueName(q: unknown, who: string): string {
  if (typeof q !== 'string' || q === '' || q.includes(':')) {
    throw typeError(`spindle/bullmq: ${who}: queue must be a non-empty string without ':' (a BullMQ queue name), got ${JSON.stringify(q)}`);
  }
  return q;
}
