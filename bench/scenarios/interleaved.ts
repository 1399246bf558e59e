/**
 * Speedups and fork-join efficiency taken round by round. These machines are
 * noisy: the issue saw the sequential baseline itself move 2× between two
 * runs, so a ratio whose numerator was timed minutes before its denominator
 * measures the machine's mood as much as the pool. Each round therefore times
 * the sequential function, then each contender, then the machine ceiling, back
 * to back, and every ratio is taken against that round's own sequential time;
 * the figure is the median (min–max) of the per-round ratios.
 */
import type { Adapter } from '../adapter.js';
import { figureOf, type Figure, type Rounds } from '../measure.js';
import type { Cell } from '../results.js';
import { ceilingTimes } from './ceiling.js';
import { efficiency, forkJoinTimes } from './fork-join.js';
import { cpuBatchTimes, speedup } from './speedup.js';

export type Batch = 'cpu' | 'skewed' | 'fib';
export const BATCHES: readonly Batch[] = ['cpu', 'skewed', 'fib'];

export interface RoundPlan {
  workers: number;
  rounds: number;
  jobs: Record<'cpu' | 'skewed', readonly number[]>;
  spinPerMs: number;
  fib: { n: number; cutoff: number; expected: number };
}

export interface Interleaved<K extends string> {
  /** Speedups (cpu, skewed) and fork-join efficiency per contender and for the ceiling, or why there are none. */
  ratios: Record<K | 'ceiling', Record<Batch, Cell>>;
  /** The sequential times (ms) the ratios were taken against: how much the baseline itself moved. */
  sequentialMs: Record<Batch, Figure>;
  /** Why a column failed, in full. */
  notes: string[];
}

/** One sample per call: the interleaving is done here, not by tinybench. */
const ONE: Rounds = { max: 1, budgetMs: 3_600_000 };

/** An error on one line, fit for a markdown list item (the table cells only say 'failed' and point here). */
export function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).replace(/\s+/g, ' ');
}

/**
 * `contenders` are started and warmed pools, or what their cells say instead
 * ('skipped (…)'). A contender that fails in any round loses the whole
 * column: figures from some rounds only would not be comparable with the
 * others'. The ceiling's threads are started afresh each round (ceilingTimes),
 * so they are not sitting idle beside the pools while those are timed.
 */
export async function interleavedRounds<K extends string>(
  plan: RoundPlan,
  sequential: Adapter,
  contenders: Record<K, Adapter | string>,
  onRound: (round: number) => void,
): Promise<Interleaved<K>> {
  const { workers, jobs, fib } = plan;
  const names = [...(Object.keys(contenders) as K[]), 'ceiling' as const];
  const values = new Map(names.map((k) => [k, { cpu: [] as number[], skewed: [] as number[], fib: [] as number[] }]));
  const missing = new Map<K | 'ceiling', string>();
  for (const k of Object.keys(contenders) as K[]) {
    const c = contenders[k];
    if (typeof c === 'string') missing.set(k, c);
  }
  const seqMs: Record<Batch, number[]> = { cpu: [], skewed: [], fib: [] };
  const notes: string[] = [];
  const fail = (k: K | 'ceiling', round: number, e: unknown): void => {
    missing.set(k, 'failed');
    notes.push(`${k}, ${workers} workers: failed in round ${round + 1}: ${oneLine(e)}`);
  };

  const cpuRatios = async (a: Adapter, seq: Record<Batch, number>): Promise<Record<'cpu' | 'skewed', number>> => ({
    cpu: speedup(seq.cpu, await cpuBatchTimes(a, 'cpu', jobs.cpu, ONE)).median,
    skewed: speedup(seq.skewed, await cpuBatchTimes(a, 'skewed', jobs.skewed, ONE)).median,
  });

  for (let r = 0; r < plan.rounds; r++) {
    onRound(r);
    const seq: Record<Batch, number> = {
      cpu: (await cpuBatchTimes(sequential, 'cpu', jobs.cpu, ONE)).p50,
      skewed: (await cpuBatchTimes(sequential, 'skewed', jobs.skewed, ONE)).p50,
      fib: (await forkJoinTimes(sequential, fib.n, fib.cutoff, ONE, fib.expected)).p50,
    };
    for (const b of BATCHES) seqMs[b].push(seq[b]);

    for (const k of Object.keys(contenders) as K[]) {
      const a = contenders[k];
      if (typeof a === 'string' || missing.has(k)) continue;
      try {
        const v = values.get(k)!;
        const { cpu, skewed } = await cpuRatios(a, seq);
        v.cpu.push(cpu);
        v.skewed.push(skewed);
        if (a.forkJoin) v.fib.push(efficiency(seq.fib, workers, await forkJoinTimes(a, fib.n, fib.cutoff, ONE, fib.expected)).median);
      } catch (e) {
        fail(k, r, e);
      }
    }

    if (!missing.has('ceiling')) {
      try {
        const t = await ceilingTimes(workers, jobs, ONE, plan.spinPerMs, { n: fib.n, expected: fib.expected, rounds: ONE });
        const v = values.get('ceiling')!;
        v.cpu.push(speedup(seq.cpu, t.cpu).median);
        v.skewed.push(speedup(seq.skewed, t.skewed).median);
        v.fib.push(efficiency(seq.fib, workers, t.fib!).median);
      } catch (e) {
        fail('ceiling', r, e);
      }
    }
  }

  const ratios = {} as Record<K | 'ceiling', Record<Batch, Cell>>;
  for (const k of names) {
    const why = missing.get(k);
    const v = values.get(k)!;
    const cell = (b: Batch): Cell => (why !== undefined ? { missing: why } : v[b].length === 0 ? { missing: 'n/a' } : figureOf(v[b]));
    ratios[k] = { cpu: cell('cpu'), skewed: cell('skewed'), fib: cell('fib') };
  }
  return { ratios, sequentialMs: { cpu: figureOf(seqMs.cpu), skewed: figureOf(seqMs.skewed), fib: figureOf(seqMs.fib) }, notes };
}
