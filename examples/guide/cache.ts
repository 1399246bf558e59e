// The cache actor: its state lives on one worker; callers reach it by RPC.
import { task } from '../../src/index.js';
import { releaseProxy, type ActorRemote } from '../../src/comlink.js';

export class Cache {
  #entries = new Map<string, string>();
  #hits = 0;
  #misses = 0;

  get(key: string): string | undefined {
    const v = this.#entries.get(key);
    if (v === undefined) this.#misses++;
    else this.#hits++;
    return v;
  }

  set(key: string, value: string): void {
    this.#entries.set(key, value);
  }

  stats(): { size: number; hits: number; misses: number } {
    return { size: this.#entries.size, hits: this.#hits, misses: this.#misses };
  }
}

/** The actor's task: returns the object the actor keeps and serves. */
export const makeCache = task(import.meta.url, function makeCache(): Cache {
  return new Cache();
});

/** A task that fills the cache through the remote it was given. */
export const warmUp = task(import.meta.url, async function warmUp(cache: ActorRemote<Cache>, prefix: string, n: number): Promise<number> {
  for (let i = 0; i < n; i++) await cache.set(`${prefix}${i}`, `value ${i}`);
  cache[releaseProxy](); // this task's client of the actor is done
  return n;
});
