/**
 * tinybench is the harness: it drives the iterations, reads the clock
 * (process.hrtime) and computes the statistics. Two shapes are needed:
 * whole batches (one sample = one batch of thousands of tasks) and single
 * calls (one sample = one round trip).
 */
import { Bench, type Statistics } from 'tinybench';

/** A reported figure: the median of the rounds and their spread (min–max). */
export interface Figure {
  median: number;
  lo: number;
  hi: number;
  rounds: number;
}

async function runOne(bench: Bench, name: string, fn: () => Promise<unknown>): Promise<Statistics> {
  bench.add(name, fn, { async: true });
  await bench.run();
  const result = bench.getTask(name)!.result;
  if (result.state === 'errored') throw result.error;
  if (result.state !== 'completed' && result.state !== 'aborted-with-statistics') {
    throw new Error(`tinybench task ${name} ended ${result.state}`);
  }
  return result.latency;
}

/** How many rounds a batch scenario runs: up to `max`, but none starts after `budgetMs` (at least one runs). */
export interface Rounds {
  max: number;
  budgetMs: number;
}

/**
 * Wall time (ms) of runs of `batch`. The budget exists because one round of
 * 100,000 tiny tasks takes 15 s on the slowest peer and 0.5 s on the fastest:
 * slow pools get fewer rounds instead of the suite taking ten minutes. No
 * tinybench warm-up: the runner warms every adapter once before measuring.
 */
export function timeBatches(name: string, rounds: Rounds, batch: () => Promise<unknown>): Promise<Statistics> {
  const bench = new Bench({
    iterations: rounds.max, time: 0, warmup: false, timestampProvider: 'hrtimeNow', throws: true,
    // tinybench finishes the round in flight on abort and keeps the samples ('aborted-with-statistics').
    signal: AbortSignal.timeout(rounds.budgetMs),
  });
  return runOne(bench, name, batch);
}

/**
 * Round trips (ms) of `calls` sequential calls. Each call times itself and
 * hands tinybench the duration (overriddenDuration), so tinybench's own
 * per-iteration async bookkeeping stays outside the few microseconds measured.
 */
export function timeCalls(name: string, calls: number, call: () => PromiseLike<unknown>): Promise<Statistics> {
  const bench = new Bench({
    iterations: calls, time: 0, warmup: true, warmupIterations: 200, warmupTime: 0, timestampProvider: 'hrtimeNow', throws: true,
  });
  return runOne(bench, name, async () => {
    const t0 = process.hrtime.bigint();
    await call();
    return { overriddenDuration: Number(process.hrtime.bigint() - t0) / 1e6 };
  });
}

/** A figure that is `f(batch ms)` for a decreasing `f` (rates, speedups): the slowest round gives `lo`. */
export function figureFromTimes(stats: Statistics, f: (ms: number) => number): Figure {
  return { median: f(stats.p50), lo: f(stats.max), hi: f(stats.min), rounds: stats.samplesCount };
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function figureOf(xs: readonly number[]): Figure {
  return { median: median(xs), lo: Math.min(...xs), hi: Math.max(...xs), rounds: xs.length };
}
