/**
 * The task bodies every adapter runs. Peers load this module (or a thin
 * worker wrapper around it) in their workers, the one-thread baseline calls it
 * inline and spindle wraps it with `task()`, so every pool executes exactly
 * the same code and only the dispatch differs.
 *
 * Every task takes one number and returns one number: that is the shape every
 * peer accepts without adapters of its own, and it keeps (de)serialisation
 * cost identical across pools.
 */

/** The smallest possible task: the benchmark then measures pure dispatch. */
export function tiny(x: number): number {
  return x + 1;
}

/**
 * Busy loop of `iterations` xorshift steps. Returning the state keeps the JIT
 * from deleting the loop; the iteration count per millisecond is calibrated
 * once on the main thread (see calibrate.ts) and passed in, so every pool gets
 * the same amount of work.
 */
export function spin(iterations: number): number {
  let x = 0x9e3779b9 ^ iterations;
  for (let i = 0; i < iterations; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x >>> 0;
}

/** Plain recursive Fibonacci: the sequential reference for fork-join, and its leaves. */
export function fib(n: number): number {
  return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/** The bulk scenario's chunk for pools without a bulk path: one task maps a whole array of items with `tiny`. */
export function tinyChunk(xs: number[]): number[] {
  const out = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = tiny(xs[i]!);
  return out;
}

export const tasks = { tiny, spin, fib };
export type TaskName = keyof typeof tasks;

/**
 * Allocation-heavy work: `n` small objects, one in 64 kept until the end (the
 * rest die young). What a worker's young-generation size matters for.
 */
export function churn(n: number): number {
  let s = 0;
  const keep: { a: number; b: number[]; c: string }[] = [];
  for (let i = 0; i < n; i++) {
    const o = { a: i, b: [i, i + 1], c: `x${i}` };
    s += o.b[1]!;
    if ((i & 63) === 0) keep.push(o);
  }
  return s + keep.length;
}
