/**
 * One chunk of a `map()` (map.ts): the task that applies the user's task to
 * each item of a chunk, in order, and returns the results. It awaits only
 * when some result is a thenable.
 *
 * A chunk task has its own code key, `M` + the user task's key (task.ts
 * `mapKeyOf`). A worker resolves that key through its code cache
 * (workers/modules.ts) to `chunkRunner(fn)`, with `fn` the user's task found
 * as any task is: compiled from source, or from its module — and while that
 * module loads, the harness holds the chunk as it holds any task whose
 * module is loading, taking no other shared work meanwhile. (A chunk that
 * loaded the module itself, *after* its claim, would let a worker claim chunk
 * after chunk during the import, where no idle worker could steal them.)
 *
 * A throw (or rejection) is not a panic of the chunk: the chunk returns a
 * {@link ChunkFailure} naming the item, so that the map can say which item
 * failed while `intoPanic()` still gives back exactly what the task threw.
 * The chunk looks at its abort flag every {@link ABORT_EVERY} items, so an
 * aborted map stops its running chunks soon, not at their end.
 */
import { workerHost } from '../context.js';
import { mapKeyOf, withCodeKey } from '../task.js';
import type { TaskContext } from '../task-context.js';

/** What a chunk returns when the task threw on one of its items. */
export interface ChunkFailure {
  /** The item's index in the whole input (the chunk's `start` plus its place in the chunk). */
  failed: number;
  /** What the task threw (or rejected with). */
  error: unknown;
}

/** What a chunk task returns: the results in order, or the failure. */
export type ChunkResult = unknown[] | ChunkFailure;

/** Items between two looks at the chunk's abort flag (one atomic load each). */
export const ABORT_EVERY = 64;

type Explain = (fn: Function, e: unknown) => unknown;

const isThenable = (r: unknown): r is PromiseLike<unknown> =>
  r !== null && (typeof r === 'object' || typeof r === 'function') && typeof (r as { then?: unknown }).then === 'function';

const ignore = (): void => {};
const asIs: Explain = (_fn, e) => e;

/**
 * The chunk task over `fn` as a worker runs it: `(items, start)`, where
 * `start` is the index of `items[0]` in the map's input. `explain` turns a
 * ReferenceError of an inline task into the 'static-bound explanation.
 */
export function chunkRunner(fn: Function, explain: Explain): (items: ArrayLike<unknown>, start: number) => ChunkResult | Promise<ChunkResult> {
  return (items, start) => runChunk(fn, items, start, workerHost()?.current(), explain);
}

const stubs = new WeakMap<Function, Function>();

/**
 * What `map(fn)` spawns for each chunk: a function whose code key is
 * `mapKeyOf(fn)` (so a worker resolves it through its code cache, above),
 * and which runs the chunk on this thread when called directly (a worker
 * runs a nested task it could not publish that way: workers/spawner.ts).
 * Throws TypeError as `codeKeyOf`.
 */
export function chunkTaskOf(fn: Function): (items: ArrayLike<unknown>, start: number) => ChunkResult | Promise<ChunkResult> {
  let stub = stubs.get(fn);
  if (stub === undefined) {
    stub = withCodeKey(chunkRunner(fn, asIs), mapKeyOf(fn));
    stubs.set(fn, stub);
  }
  return stub as (items: ArrayLike<unknown>, start: number) => ChunkResult | Promise<ChunkResult>;
}

/** Applies `fn` to each item; called synchronously at the task's start (`ctx` is the running task's). */
function runChunk(fn: Function, items: ArrayLike<unknown>, start: number, ctx: TaskContext | undefined, explain: Explain): ChunkResult | Promise<ChunkResult> {
  const n = items.length;
  const out = new Array<unknown>(n); // filled in order (push would grow it: a third slower per item)
  let thenables = 0;
  for (let i = 0; i < n; i++) {
    // Aborted (the map failed elsewhere, or was cancelled): what this returns is discarded.
    if (i % ABORT_EVERY === ABORT_EVERY - 1 && ctx?.aborted) return abandon(out, thenables);
    let r: unknown;
    try {
      r = fn(items[i]);
    } catch (e) {
      abandon(out, thenables);
      return { failed: start + i, error: explain(fn, e) };
    }
    if (isThenable(r)) thenables++;
    out[i] = r;
  }
  return thenables === 0 ? out : settleAll(fn, out, thenables, start, explain);
}

/** Awaits the thenables among `out`; the first to reject (in time) fails the chunk. */
function settleAll(fn: Function, out: unknown[], thenables: number, start: number, explain: Explain): Promise<ChunkResult> {
  return new Promise((resolve) => {
    let left = thenables;
    let done = false;
    for (let i = 0; i < out.length; i++) {
      const r = out[i];
      if (!isThenable(r)) continue;
      Promise.resolve(r).then(
        (v) => {
          out[i] = v;
          if (--left === 0 && !done) {
            done = true;
            resolve(out);
          }
        },
        (e: unknown) => {
          if (done) return;
          done = true;
          resolve({ failed: start + i, error: explain(fn, e) });
        },
      );
    }
  });
}

/** Stops waiting for the thenables already made: their rejections must not become unhandled ones. */
function abandon(out: unknown[], thenables: number): unknown[] {
  if (thenables > 0) for (const r of out) if (isThenable(r)) Promise.resolve(r).catch(ignore);
  return out;
}
