/**
 * Renders `npm run bench:scale` as markdown: one row per worker count, with
 * piscina and the machine ceiling beside spindle in every column where they
 * exist, then the sequential baselines the ratios were taken against (so a
 * moving baseline is seen, not hidden in the ratios) and the setup.
 */
import type { Figure } from './measure.js';
import { formatCell, table } from './report.js';
import { METRICS, type Cell, type MetricId } from './results.js';
import type { Batch } from './scenarios/interleaved.js';
import type { ScaleOptions } from './scale-options.js';

export type Pool = 'spindle' | 'piscina';

export interface ScaleRow {
  workers: number;
  tiny: Record<Pool, Cell>;
  p50: Record<Pool, Cell>;
  p99: Record<Pool, Cell>;
  ratios: Record<Pool | 'ceiling', Record<Batch, Cell>>;
  sequentialMs: Record<Batch, Figure>;
  /** Share of all cores that other processes used while this row was measured (noise.ts). */
  noise: number;
}

export interface ScaleRun {
  opts: ScaleOptions;
  rows: ScaleRow[];
  /** `os.availableParallelism()`, the CPU model, Node, the OS, the peer's version. */
  machine: string;
  setup: string[];
  /** Why a cell says skipped or failed. */
  notes: string[];
}

// The suite's formats, so the same figure reads the same in both reports.
const format = (id: MetricId): ((v: number) => string) => METRICS.find((m) => m.id === id)!.format;
const ms = (v: number): string => v.toFixed(v < 100 ? 1 : 0);

export function renderScale({ opts, rows, machine, setup, notes }: ScaleRun): string {
  const fib = `fib(${opts.fibN}), leaves n ≤ ${opts.fibCutoff}`;
  const out: string[] = [];
  out.push(`# spindle scaling, ${rows.map((r) => r.workers).join(', ')} workers`, '');
  if (opts.quick) out.push('**A `--quick` run**: fewer rounds and a smaller CPU batch than the full run; not comparable with it.', '');
  out.push(`Reproduce: \`${opts.command}\``, '');
  out.push(`Machine: ${machine}`, '');
  out.push(`Median over ${opts.rounds} interleaved round${opts.rounds > 1 ? 's' : ''}, (min–max) across them. ↑ higher is better, ↓ lower is better.`, '');

  const head = [
    'workers',
    'tiny tasks/s ↑ spindle', 'piscina',
    'p50 µs ↓ spindle', 'piscina',
    'p99 µs ↓ spindle', 'piscina',
    'CPU speedup ↑ spindle', 'piscina', 'ceiling',
    'skewed speedup ↑ spindle', 'piscina', 'ceiling',
    'fork-join efficiency ↑ spindle', 'piscina', 'ceiling',
    'CPU taken by other processes ↓',
  ];
  const ratio = format('cpu');
  const body = rows.map((r) => [
    String(r.workers),
    ...(['tiny', 'p50', 'p99'] as const).flatMap((m) => [formatCell(r[m].spindle, format(m)), formatCell(r[m].piscina, format(m))]),
    ...(['cpu', 'skewed', 'fib'] as const).flatMap((b) => (['spindle', 'piscina', 'ceiling'] as const).map((p) => formatCell(r.ratios[p][b], ratio))),
    `${(r.noise * 100).toFixed(1)} %`,
  ]);
  out.push(table(head, body), '');

  out.push(
    `- **tiny tasks/s**: ${opts.tiny.tinyTasks.toLocaleString('en')} tasks that add 1, all submitted before any is awaited: the cost of dispatch.`,
    `- **p50/p99 µs**: one task in flight at a time, ${opts.tiny.latencyCalls.toLocaleString('en')} round trips × ${opts.tiny.latencyRounds} rounds; the median of the rounds' percentiles.`,
    `- **CPU speedup**: ${opts.cpuJobs.toLocaleString('en')} tasks of ~1 ms submitted at once; sequential time ÷ pool time, per round. **Skewed**: the same count with 1 % of them 50× longer, at seeded positions.`,
    `- **fork-join efficiency**: ${fib}; sequential time ÷ (workers × parallel time), per round, 1.00 being perfect. piscina's tasks cannot spawn tasks: n/a.`,
    '- **ceiling**: the same jobs (for fork-join, the same fib unfolded into independent subproblems) statically split onto as many plain worker threads, no pool: what the machine gives.',
    '- **CPU taken by other processes**: while the row was measured, as a share of all cores; a row above a few % was disturbed and should be rerun, not believed.',
    ...(notes.length > 0 ? ['- **skipped**, **failed**: the reasons are under Notes, at the end.'] : []),
    '',
  );

  const one = rows.find((r) => r.workers === 1)?.ratios.spindle.fib;
  if (one === undefined) {
    out.push(`**One worker, fork-join**: not measured (1 is not in the worker list).`, '');
  } else {
    const verdict = 'median' in one ? (one.median >= 0.97 ? ' ✅' : ' ❌') : '';
    out.push(`**One worker, fork-join**: spindle on ${fib} runs at ${formatCell(one, ratio)} of the sequential function; the issue asks ≥ 0.97${verdict}.`, '');
  }

  out.push('## Sequential baselines (ms)', '');
  out.push('What each row\'s ratios were divided from, timed in the same rounds: a baseline that moves between rows shows the machine moving.', '');
  out.push(table(['workers', `CPU batch, ${opts.cpuJobs} × 1 ms`, `skewed batch`, fib], rows.map((r) => [
    String(r.workers), formatCell(r.sequentialMs.cpu, ms), formatCell(r.sequentialMs.skewed, ms), formatCell(r.sequentialMs.fib, ms),
  ])), '');

  out.push('## Setup', '', ...setup.map((s) => `- ${s}`), '');
  if (notes.length > 0) out.push('## Notes', '', ...notes.map((s) => `- ${s}`), '');
  return out.join('\n');
}
