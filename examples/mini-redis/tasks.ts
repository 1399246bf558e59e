/**
 * mini-redis' tasks: `serve`, the connection task every worker runs for the
 * connections it accepts, and `sweep`, the expiry sweeper the main thread
 * spawns now and then. No side effects here: every worker imports this module.
 */
import type { Socket } from 'node:net';
import { workerHost } from '../../src/context.js';
import { type SharedMap, type broadcast, LaggedError, task } from '../../src/index.js';
import { execData, arity } from './commands.js';
import { type Store, sweepExpired } from './db.js';
import { NIL, OK, ProtocolError, RespParser, array, bulk, error, int, simple } from './resp.js';

const workerIndex = (): number => workerHost()?.index ?? -1;

/** A published message: [channel, message]. */
export type Message = [string, string];

const INFO = bulk('# Server\r\nredis_version:7.0.0\r\nredis_mode:standalone\r\nspindle_mini_redis:1\r\n\r\n# Persistence\r\nloading:0\r\n');

/** Replies are written in pieces of about this many bytes within one batch of pipelined commands. */
const FLUSH_AT = 64 << 10;
/** Unsent reply bytes one connection may hold before it is closed. */
const MAX_OUTPUT = 64 << 20;

/** Deletes every expired key (the background half of expiry; reads drop expired keys too). */
export const sweep = task(import.meta.url, function sweep(store: Store): number {
  return sweepExpired(store);
});

/** One client connection: RESP in, replies out, pipelined commands answered in one write. */
export const serve = task(import.meta.url, async function serve(
  socket: Socket,
  store: Store,
  bus: broadcast.Sender<Message>,
  subscribers: SharedMap<string, number>,
): Promise<void> {
  const parser = new RespParser();
  const channels = new Set<string>();
  let receiver: broadcast.Receiver<Message> | null = null;
  const stop = new AbortController();
  let quit = false;

  const write = (out: string): void => {
    // Backpressure: a client that does not read its replies stops being read.
    if (!socket.write(out, 'latin1')) {
      socket.pause();
      socket.once('drain', () => socket.resume());
    }
  };

  const pump = async (rx: broadcast.Receiver<Message>): Promise<void> => {
    for (;;) {
      let m: Message | undefined;
      try {
        m = await rx.recv({ signal: stop.signal });
      } catch (e) {
        if (e instanceof LaggedError) continue; // missed some: go on from the oldest kept, as Redis drops slow subscribers' backlog
        return;
      }
      if (m === undefined) return;
      if (channels.has(m[0]) && !socket.destroyed) write(array([bulk('message'), bulk(m[0]), bulk(m[1])]));
    }
  };

  const subscribe = (a: string[]): string => {
    if (a.length < 2) return arity(a[0]!);
    if (receiver === null) {
      receiver = bus.subscribe();
      void pump(receiver);
    }
    let out = '';
    for (let i = 1; i < a.length; i++) {
      const ch = a[i]!;
      if (!channels.has(ch)) {
        channels.add(ch);
        subscribers.update(ch, (n) => (n ?? 0) + 1);
      }
      out += array([bulk('subscribe'), bulk(ch), int(channels.size)]);
    }
    return out;
  };

  const unsubscribe = (names: string[]): string => {
    const list = names.length > 0 ? names : [...channels];
    if (list.length === 0) return array([bulk('unsubscribe'), NIL, int(0)]);
    let out = '';
    for (const ch of list) {
      if (channels.delete(ch)) subscribers.update(ch, (n) => (n === undefined || n <= 1 ? undefined : n - 1));
      out += array([bulk('unsubscribe'), bulk(ch), int(channels.size)]);
    }
    return out;
  };

  const exec = (a: string[]): string => {
    const name = a[0]!.toUpperCase();
    const data = execData(store, name, a);
    if (data !== undefined) return data;
    switch (name) {
      case 'PING':
        if (channels.size > 0) return array([bulk('pong'), bulk(a[1] ?? '')]);
        return a.length === 1 ? simple('PONG') : a.length === 2 ? bulk(a[1]!) : arity(name);
      case 'ECHO':
        return a.length === 2 ? bulk(a[1]!) : arity(name);
      case 'PUBLISH': {
        if (a.length !== 3) return arity(name);
        try {
          bus.send([a[1]!, a[2]!]);
        } catch {
          // No receiver anywhere: nobody to count.
        }
        return int(subscribers.get(a[1]!) ?? 0);
      }
      case 'SUBSCRIBE':
        return subscribe(a);
      case 'UNSUBSCRIBE':
        return unsubscribe(a.slice(1));
      case 'CONFIG': {
        // redis-benchmark asks for `save` and `appendonly` before it starts.
        if (a.length !== 3 || a[1]!.toUpperCase() !== 'GET') return error("ERR only 'CONFIG GET parameter' is supported");
        const known: Record<string, string> = { save: '', appendonly: 'no', databases: '1' };
        const p = a[2]!.toLowerCase();
        return p in known ? array([bulk(p), bulk(known[p]!)]) : array([]);
      }
      case 'INFO':
        return INFO;
      case 'SELECT':
        return a[1] === '0' ? OK : error('ERR DB index is out of range');
      case 'CLIENT':
        // CLIENT INFO says which worker serves this connection (the tests use it); SETNAME / SETINFO are accepted and ignored.
        return a[1]?.toUpperCase() === 'INFO' ? bulk(`worker=${workerIndex()}\n`) : OK;
      case 'QUIT':
        quit = true;
        return OK;
      default: {
        const shown = a
          .slice(1, 4)
          .map((x) => `'${x.slice(0, 64)}' `)
          .join('');
        return error(`ERR unknown command '${a[0]!.slice(0, 64)}', with args beginning with: ${shown}`);
      }
    }
  };

  socket.on('data', (chunk: Buffer) => {
    if (quit) return;
    let out = '';
    try {
      for (const cmd of parser.push(chunk)) {
        out += exec(cmd);
        if (quit) break;
        if (out.length > FLUSH_AT) {
          write(out);
          out = '';
          // A client that pipelines faster than it reads would make us buffer without bound (Redis: client-output-buffer-limit).
          if (socket.writableLength > MAX_OUTPUT) {
            socket.destroy();
            return;
          }
        }
      }
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      // Only this connection closes; everything after the bad frame is ignored.
      quit = true;
      out += error(`ERR Protocol error: ${e.message}`);
    }
    if (out !== '') write(out);
    if (quit) socket.end();
  });

  await new Promise<void>((resolve) => socket.once('close', () => resolve()));
  stop.abort();
  unsubscribe([]);
  (receiver as broadcast.Receiver<Message> | null)?.drop();
});
