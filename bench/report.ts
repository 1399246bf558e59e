/**
 * Renders a run as markdown: the summary (median and min–max per metric and
 * adapter, spindle's target beside it), the ratios to piscina and to one
 * thread, the batch times behind the ratios, the setup, and the command.
 */
import type { AdapterId } from './adapters/index.js';
import type { Options } from './options.js';
import { METRICS, type Cell, type Metric, type Results } from './results.js';

/** Shared with bench:scale's report, so both print tables and cells the same way. */
export function table(head: string[], rows: string[][]): string {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i === 0 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

function cellText(r: Results, m: Metric, id: AdapterId | 'ceiling'): string {
  return formatCell(id === 'ceiling' ? r.ceiling.get(m.id) : r.cells.get(m.id)?.get(id), m.format);
}

/** A single round has no spread to show, and saying so keeps "(x–x)" from passing for agreement between rounds. */
export function formatCell(cell: Cell | undefined, format: (v: number) => string): string {
  if (cell === undefined) return '';
  if ('missing' in cell) return cell.missing;
  if (cell.rounds === 1) return `${format(cell.median)} (1 round)`;
  return `${format(cell.median)} (${format(cell.lo)}–${format(cell.hi)})`;
}

function ratio(r: Results, m: Metric, id: AdapterId, base: AdapterId): string {
  const a = r.figure(m.id, id);
  const b = r.figure(m.id, base);
  return a && b ? `${(a.median / b.median).toFixed(2)}×` : '';
}

function verdict(r: Results, m: Metric): string {
  const s = r.figure(m.id, 'spindle');
  if (!s) return m.target;
  const ok = m.meetsTarget(s.median, r.figure(m.id, 'piscina')?.median);
  return ok === undefined ? m.target : `${m.target} ${ok ? '✅' : '❌'}`;
}

export function renderReport(r: Results, opts: Options, names: Map<AdapterId, string>, setup: string[]): string {
  const ids = opts.adapters;
  const header = (first: string): string[] => [first, ...ids.map((id) => names.get(id)!)];
  const metrics = METRICS.filter((m) => opts.scenarios.includes(m.scenario));
  const out: string[] = [];

  out.push(`# spindle benchmarks, ${opts.workers} worker${opts.workers > 1 ? 's' : ''}`, '');
  out.push(`Reproduce: \`${opts.command}\``, '');
  out.push('Median of the rounds, (min–max) across rounds. ↑ higher is better, ↓ lower is better.', '');
  const withCeiling = r.ceiling.size > 0;
  const columns: (AdapterId | 'ceiling')[] = [...ids, ...(withCeiling ? ['ceiling' as const] : [])];
  const rows = metrics.map((m) => [m.label, verdict(r, m), ...columns.map((id) => cellText(r, m, id))]);
  if (r.noise.size > 0) {
    const pct = (id: AdapterId | 'ceiling'): string => {
      const share = r.noise.get(id);
      return share === undefined ? '' : `${(share * 100).toFixed(1)} %`;
    };
    rows.push(['CPU taken by other processes meanwhile ↓', '≈ 0', ...columns.map(pct)]);
  }
  out.push(table(['metric', 'spindle target', ...header('').slice(1), ...(withCeiling ? ['machine ceiling'] : [])], rows), '');
  if (withCeiling) {
    out.push('Machine ceiling: the same CPU-bound jobs (for fork-join: the same fib arithmetic, unfolded into independent subproblems) on the same number of threads, split up front with no pool.');
  }
  if (r.noise.size > 0) {
    out.push('Last row: CPU time other processes used while that column was measured, as a share of all cores; ' +
      'a column with more than a few % was disturbed and its figures are not comparable.');
  }
  if (withCeiling || r.noise.size > 0) {
    out.push('');
  }

  out.push('## Ratio to piscina (median ÷ piscina\'s median)', '');
  out.push(table(header('metric'), metrics.map((m) => [m.label, ...ids.map((id) => ratio(r, m, id, 'piscina'))])), '');

  const vsOne = metrics.filter((m) => m.vsOneThread);
  if (vsOne.length > 0) {
    out.push('## Ratio to one thread (median ÷ one thread\'s median)', '');
    out.push('The speedups and the fork-join efficiency above are already relative to one thread.', '');
    out.push(table(header('metric'), vsOne.map((m) => [m.label, ...ids.map((id) => ratio(r, m, id, 'one-thread'))])), '');
  }

  const timed = metrics.filter((m) => r.batchMs.has(m.id));
  if (timed.length > 0) {
    out.push('## Wall time of one batch (median ms)', '');
    out.push(table(header('batch'), timed.map((m) => [m.label.replace(/ [↑↓]$/, ''),
      ...ids.map((id) => r.batchMs.get(m.id)!.get(id)?.toFixed(1) ?? '')])), '');
  }

  out.push('## Setup', '', ...setup.map((s) => `- ${s}`), '');
  if (r.footnotes.length > 0) out.push('## Notes', '', ...r.footnotes.map((s) => `- ${s}`), '');
  return out.join('\n');
}
