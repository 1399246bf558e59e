/**
 * The bulk path: a million tiny items (`x + 1`) in, a million results out,
 * in order. spindle runs them through `rt.map(tiny, items)` (one task per
 * chunk, chunks sized automatically); a pool without a bulk path gets the
 * fair equivalent, chunked by hand: the items cut into the same number of
 * chunks `map` would make, one `tinyChunk(chunk)` task each, the results
 * joined in order. The one-thread baseline runs the same chunks inline.
 * Beside it, spindle with one task per item (`rt.spawn(tiny, x)` for each),
 * on fewer items: what the bulk path saves.
 */
import type { Adapter } from '../adapter.js';
import { figureFromTimes, timeBatches, type Figure, type Rounds } from '../measure.js';
import { autoChunk } from '../../src/task/map.js';

/** 0, 1, …, n−1. */
export const bulkInputs = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

function check(out: readonly number[], n: number, who: string): void {
  if (out.length !== n || out[0] !== 1 || out[n >> 1] !== (n >> 1) + 1 || out[n - 1] !== n) {
    throw new Error(`${who}: wrong results (length ${out.length}, last ${out[n - 1]})`);
  }
}

/** The items cut into `map`'s automatic chunks, one `tinyChunk` task each, results joined in input order. */
async function byHand(a: Adapter, xs: number[], workers: number): Promise<number[]> {
  const size = autoChunk(xs.length, workers);
  const parts: PromiseLike<number[]>[] = [];
  for (let at = 0; at < xs.length; at += size) parts.push(a.runChunk(xs.slice(at, at + size)));
  return ([] as number[]).concat(...(await Promise.all(parts)));
}

/** How long one round may take before it is reported as failed. */
const ROUND_LIMIT_MS = 60_000;

/**
 * `p`, or a rejection after ROUND_LIMIT_MS: a pool that loses a task is
 * reported as failed instead of hanging the suite (or, with nothing else
 * referenced, ending it with exit code 13: see `closeAdapter` in run.ts).
 */
function limited<T>(p: PromiseLike<T>, who: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    Promise.resolve(p).finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${who}: no results after ${ROUND_LIMIT_MS / 1000} s`)), ROUND_LIMIT_MS);
    }),
  ]);
}

/** Items/s through the adapter's bulk path (`map`), or by hand-made chunks where it has none. */
export async function bulkThroughput(a: Adapter, items: number, workers: number, rounds: Rounds): Promise<Figure> {
  const xs = bulkInputs(items);
  const run = (): Promise<number[]> => limited(a.map ? a.map(xs) : byHand(a, xs, workers), a.name);
  check(await run(), items, a.name); // warm-up: the workers load the chunk task and the JIT compiles both sides
  const stats = await timeBatches(`${a.name} bulk`, rounds, async () => check(await run(), items, a.name));
  return figureFromTimes(stats, (ms) => (items * 1000) / ms);
}

/** Items/s with one task per item (`run('tiny', x)` for each, all at once). */
export async function perItemThroughput(a: Adapter, items: number, rounds: Rounds): Promise<Figure> {
  const stats = await timeBatches(`${a.name} bulk, one task per item`, rounds, async () => {
    const pending = new Array<PromiseLike<number>>(items);
    for (let i = 0; i < items; i++) pending[i] = a.run('tiny', i);
    check(await limited(Promise.all(pending), a.name), items, a.name);
  });
  return figureFromTimes(stats, (ms) => (items * 1000) / ms);
}
