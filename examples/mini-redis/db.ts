/**
 * The store: one SharedMap for every worker (the shared-state chapter's
 * `Arc<Mutex<HashMap>>`, sharded). A value is kept as `"<expiresAt>|<bytes>"`
 * (expiresAt in ms since the epoch, empty for none): one string, so every
 * read and read-modify-write is one shard lock and a primitive encode.
 */
import type { SharedMap } from '../../src/index.js';

export type Store = SharedMap<string, string>;

export interface Entry {
  value: string;
  /** ms since the epoch, 0 = never. */
  expiresAt: number;
}

export const pack = (value: string, expiresAt: number): string => `${expiresAt === 0 ? '' : expiresAt}|${value}`;

/** The entry, or undefined when absent or expired (expiry is checked on every read: lazy, as Redis). */
export function unpack(raw: string | undefined, now: number): Entry | undefined {
  if (raw === undefined) return undefined;
  const bar = raw.indexOf('|');
  const expiresAt = bar === 0 ? 0 : Number(raw.slice(0, bar));
  if (expiresAt !== 0 && expiresAt <= now) return undefined;
  return { value: raw.slice(bar + 1), expiresAt };
}

/** Deletes `key` if it is still expired (another worker may have set it again meanwhile). */
export function dropIfExpired(store: Store, key: string, now: number): void {
  store.update(key, (cur) => (cur !== undefined && unpack(cur, now) === undefined ? undefined : cur));
}

/** The background sweeper's pass: every expired key is deleted, not only those read again. */
export function sweepExpired(store: Store): number {
  const now = Date.now();
  const expired: string[] = [];
  for (const [k, v] of store) if (unpack(v, now) === undefined) expired.push(k);
  for (const k of expired) dropIfExpired(store, k, now);
  return expired.length;
}
