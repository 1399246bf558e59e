/**
 * What each command does to the store: tokio mini-redis' commands plus what
 * redis-cli, redis-benchmark and ioredis send (INFO, CONFIG GET, MGET, ...).
 * Replies are RESP2 strings (resp.ts); pub/sub lives in connection.ts.
 */
import { type Store, dropIfExpired, pack, unpack } from './db.js';
import { NIL, OK, array, bulk, error, int } from './resp.js';

const NOT_INT = error('ERR value is not an integer or out of range');
const SYNTAX = error('ERR syntax error');
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

export const arity = (name: string): string => error(`ERR wrong number of arguments for '${name.toLowerCase()}' command`);

/** An integer argument as Redis parses it, or undefined. */
function parseInt64(s: string): number | undefined {
  if (!/^-?\d{1,19}$/.test(s)) return undefined;
  const b = BigInt(s);
  return b > MAX_SAFE || b < -MAX_SAFE ? undefined : Number(b);
}

/** Runs a data command; undefined when `name` is not one (the connection handles the rest). */
export function execData(store: Store, name: string, a: string[]): string | undefined {
  const now = Date.now();
  switch (name) {
    case 'GET': {
      if (a.length !== 2) return arity(name);
      const e = unpack(store.get(a[1]!), now);
      return e === undefined ? NIL : bulk(e.value);
    }
    case 'SET':
      return set(store, a, now);
    case 'DEL':
    case 'EXISTS': {
      if (a.length < 2) return arity(name);
      let n = 0;
      for (let i = 1; i < a.length; i++) {
        const k = a[i]!;
        if (name === 'DEL') {
          let live = false;
          store.update(k, (cur) => {
            live = unpack(cur, now) !== undefined;
            return undefined;
          });
          if (live) n++;
        } else if (unpack(store.get(k), now) !== undefined) n++;
      }
      return int(n);
    }
    case 'INCR':
    case 'DECR':
      return a.length === 2 ? incrBy(store, a[1]!, name === 'INCR' ? 1 : -1, now) : arity(name);
    case 'INCRBY':
    case 'DECRBY': {
      if (a.length !== 3) return arity(name);
      const by = parseInt64(a[2]!);
      if (by === undefined) return NOT_INT;
      return incrBy(store, a[1]!, name === 'INCRBY' ? by : -by, now);
    }
    case 'MGET': {
      if (a.length < 2) return arity(name);
      const out: string[] = [];
      for (let i = 1; i < a.length; i++) {
        const e = unpack(store.get(a[i]!), now);
        out.push(e === undefined ? NIL : bulk(e.value));
      }
      return array(out);
    }
    case 'MSET': {
      if (a.length < 3 || a.length % 2 === 0) return arity(name);
      for (let i = 1; i < a.length; i += 2) store.set(a[i]!, pack(a[i + 1]!, 0));
      return OK;
    }
    case 'EXPIRE':
    case 'PEXPIRE': {
      if (a.length !== 3) return arity(name);
      const t = parseInt64(a[2]!);
      if (t === undefined) return NOT_INT;
      const at = now + (name === 'EXPIRE' ? t * 1000 : t);
      let done = 0;
      store.update(a[1]!, (cur) => {
        const e = unpack(cur, now);
        if (e === undefined) return undefined;
        done = 1;
        return at <= now ? undefined : pack(e.value, at);
      });
      return int(done);
    }
    case 'TTL':
    case 'PTTL': {
      if (a.length !== 2) return arity(name);
      const raw = store.get(a[1]!);
      const e = unpack(raw, now);
      if (e === undefined) {
        if (raw !== undefined) dropIfExpired(store, a[1]!, now);
        return int(-2);
      }
      if (e.expiresAt === 0) return int(-1);
      const ms = e.expiresAt - now;
      return int(name === 'TTL' ? Math.round(ms / 1000) : ms);
    }
    case 'DBSIZE':
      return a.length === 1 ? int(store.size) : arity(name);
    case 'FLUSHALL':
    case 'FLUSHDB':
      store.clear();
      return OK;
    default:
      return undefined;
  }
}

/** SET key value [EX s | PX ms] [NX | XX] */
function set(store: Store, a: string[], now: number): string {
  if (a.length < 3) return arity('SET');
  let expiresAt = 0;
  let mode: 'NX' | 'XX' | '' = '';
  for (let i = 3; i < a.length; i++) {
    const opt = a[i]!.toUpperCase();
    if ((opt === 'EX' || opt === 'PX') && expiresAt === 0 && i + 1 < a.length) {
      const t = parseInt64(a[++i]!);
      if (t === undefined) return NOT_INT;
      if (t <= 0) return error("ERR invalid expire time in 'set' command");
      expiresAt = now + (opt === 'EX' ? t * 1000 : t);
    } else if ((opt === 'NX' || opt === 'XX') && mode === '') mode = opt;
    else return SYNTAX;
  }
  const value = pack(a[2]!, expiresAt);
  if (mode === '') {
    store.set(a[1]!, value);
    return OK;
  }
  let wrote = false;
  store.update(a[1]!, (cur) => {
    const exists = unpack(cur, now) !== undefined;
    wrote = mode === 'NX' ? !exists : exists;
    return wrote ? value : exists ? cur : undefined;
  });
  return wrote ? OK : NIL;
}

function incrBy(store: Store, key: string, by: number, now: number): string {
  let reply = '';
  store.update(key, (cur) => {
    const e = unpack(cur, now);
    const n = e === undefined ? 0 : parseInt64(e.value);
    if (n === undefined) {
      reply = NOT_INT;
      return cur;
    }
    const next = n + by;
    if (!Number.isSafeInteger(next)) {
      reply = error('ERR increment or decrement would overflow');
      return cur;
    }
    reply = int(next);
    return pack(String(next), e?.expiresAt ?? 0);
  });
  return reply;
}
