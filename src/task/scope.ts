/**
 * `scope`: structured concurrency. Every task spawned through the scope is
 * done before `scope` settles; if one panics, the others are aborted and the
 * scope rejects with that task's `JoinError` (`isPanic()`, `intoPanic()`).
 *
 * ```ts
 * const total = await scope(async (s) => {
 *   const a = s.spawn(count, part1);
 *   const b = s.spawn(count, part2);
 *   return (await a) + (await b);
 * });
 * ```
 *
 * Like any task, a scope's tasks borrow nothing from the code that spawns
 * them (they run on other threads): they get copies of their arguments, and
 * shared handles (Arc, Mutex, channel ends) to share state.
 */
import { workerHost } from '../context.js';
import { typeError } from '../errors.js';
import { JoinHandle } from '../join.js';
import type { Runtime } from '../runtime.js';
import { spawn } from '../spawn.js';

/** The handle a scope's body gets: spawn tasks that the scope waits for. */
export class Scope {
  readonly #runtime: Runtime | undefined;
  readonly #track: (h: JoinHandle<unknown>) => void;
  #open = true;

  /** @internal */
  constructor(runtime: Runtime | undefined, track: (h: JoinHandle<unknown>) => void) {
    this.#runtime = runtime;
    this.#track = track;
  }

  /** Spawns `task(...args)` in this scope; the scope waits for it. */
  spawn<A extends unknown[], R>(task: (...args: A) => R, ...args: A): JoinHandle<Awaited<R>> {
    if (!this.#open) throw typeError('spindle: Scope.spawn(): this scope has ended; spawn inside its body (or from its tasks\' results) only');
    const h = workerHost() === undefined && this.#runtime !== undefined ? this.#runtime.spawn(task, ...args) : spawn(task, ...args);
    this.#track(h as JoinHandle<unknown>);
    return h;
  }

  /** @internal */
  _close(): void {
    this.#open = false;
  }
}

/**
 * Runs `body` with a {@link Scope}; resolves with what `body` returns once
 * every task spawned in the scope has finished. If a task panics, every other
 * task of the scope is aborted and the scope rejects with the first panic's
 * `JoinError` (after all have finished). If `body` throws, the tasks are
 * aborted and the scope rejects with that error.
 */
export async function scope<R>(body: (s: Scope) => R | PromiseLike<R>, opts: { runtime?: Runtime } = {}): Promise<Awaited<R>> {
  if (typeof body !== 'function') throw typeError('spindle: scope(body) takes a function (s) => { s.spawn(...) }');
  const live = new Set<JoinHandle<unknown>>();
  let failure: { e: unknown } | null = null;
  let settle: (() => void) | null = null;
  const abortAll = (): void => {
    for (const h of live) h.abort();
  };
  // One listener for every task (JoinHandle._listen): no promise or closure per task.
  const settled = (h: JoinHandle<unknown>): void => {
    const e = h._error();
    if (e !== undefined && failure === null && e.isPanic()) {
      failure = { e };
      abortAll();
    }
    live.delete(h);
    if (live.size === 0 && settle !== null) settle();
  };
  const watch = (h: JoinHandle<unknown>): void => h._listen(settled);
  // Inside a task, watch one event-loop turn after spawning (watching a child still in the
  // worker's private deque runs it at once: let the body spawn its batch first).
  let pending: JoinHandle<unknown>[] = [];
  const track = (h: JoinHandle<unknown>): void => {
    live.add(h);
    if (workerHost() === undefined) return watch(h);
    if (pending.length === 0) {
      setImmediate(() => {
        const hs = pending;
        pending = [];
        for (const x of hs) watch(x);
      });
    }
    pending.push(h);
  };
  const s = new Scope(opts.runtime, track);
  let result: { ok: true; v: Awaited<R> } | { ok: false; e: unknown };
  try {
    result = { ok: true, v: await body(s) };
  } catch (e) {
    result = { ok: false, e };
    abortAll();
  }
  s._close();
  for (const h of pending) watch(h);
  pending = [];
  if (live.size > 0) await new Promise<void>((resolve) => (settle = resolve));
  if (failure !== null) throw (failure as { e: unknown }).e;
  if (!result.ok) throw result.e;
  return result.v;
}
