/** What a run collects: one cell per metric × adapter, plus batch times and footnotes for the report. */
import type { AdapterId } from './adapters/index.js';
import type { Figure } from './measure.js';
import type { ScenarioId } from './options.js';

export type MetricId = 'tiny' | 'tiny-join' | 'p50' | 'p99' | 'cpu' | 'skewed' | 'fib' | 'bulk' | 'bulk-each' | 'rss' | 'rss-join';

/** A measured figure, or why there is none ('n/a', 'skipped', 'failed'). */
export type Cell = Figure | { missing: string };

export interface Metric {
  id: MetricId;
  scenario: ScenarioId;
  label: string;
  /** spindle's target from the issue. */
  target: string;
  meetsTarget(spindle: number, piscina: number | undefined): boolean | undefined;
  format(v: number): string;
  /** Whether "÷ one thread" says something the figure does not already say. */
  vsOneThread: boolean;
}

const rate = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : `${(v / 1e3).toFixed(1)}k`);
const fixed = (digits: number) => (v: number): string => v.toFixed(digits);

export const METRICS: readonly Metric[] = [
  { id: 'tiny', scenario: 'tiny', label: 'tiny tasks/s, all submitted at once ↑', target: '≥ 10× piscina (aim 1M)',
    meetsTarget: (s, p) => (p === undefined ? undefined : s >= 10 * p), format: rate, vsOneThread: true },
  { id: 'tiny-join', scenario: 'tiny', label: 'tiny tasks/s, awaited with joinAll ↑', target: '—',
    meetsTarget: () => undefined, format: rate, vsOneThread: false },
  { id: 'p50', scenario: 'latency', label: 'round trip p50, µs ↓', target: '≤ 15',
    meetsTarget: (s) => s <= 15, format: fixed(1), vsOneThread: true },
  { id: 'p99', scenario: 'latency', label: 'round trip p99, µs ↓', target: '—',
    meetsTarget: () => undefined, format: fixed(1), vsOneThread: true },
  { id: 'cpu', scenario: 'cpu', label: 'speedup, 1 ms tasks ↑', target: '≥ 1.93',
    meetsTarget: (s) => s >= 1.93, format: fixed(2), vsOneThread: false },
  { id: 'skewed', scenario: 'skewed', label: 'speedup, 1 % of tasks 50× ↑', target: '≥ 1.90',
    meetsTarget: (s) => s >= 1.9, format: fixed(2), vsOneThread: false },
  { id: 'fib', scenario: 'fib', label: 'fork-join fib efficiency ↑', target: '≥ 0.85',
    meetsTarget: (s) => s >= 0.85, format: fixed(2), vsOneThread: false },
  { id: 'bulk', scenario: 'bulk', label: 'bulk: 1M tiny items/s, map or hand-made chunks ↑', target: '≥ 5M',
    meetsTarget: (s) => s >= 5e6, format: rate, vsOneThread: true },
  { id: 'bulk-each', scenario: 'bulk', label: 'bulk: items/s, one task per item ↑', target: '—',
    meetsTarget: () => undefined, format: rate, vsOneThread: false },
  { id: 'rss', scenario: 'rss', label: 'peak RSS, all outstanding, MiB ↓', target: '≤ 150',
    meetsTarget: (s) => s <= 150, format: fixed(0), vsOneThread: true },
  { id: 'rss-join', scenario: 'rss', label: 'peak RSS, awaited with joinAll, MiB ↓', target: '≤ 150',
    meetsTarget: (s) => s <= 150, format: fixed(0), vsOneThread: false },
];

export class Results {
  readonly cells = new Map<MetricId, Map<AdapterId, Cell>>();
  /** Median wall time of one batch (ms), for the scenarios timed as batches. */
  readonly batchMs = new Map<MetricId, Map<AdapterId, number>>();
  /** The machine's ceiling for the CPU-bound batches (scenarios/ceiling.ts), as a speedup. */
  readonly ceiling = new Map<MetricId, Figure>();
  /** Share of the machine's CPU that other processes took while each adapter was measured in-process. */
  readonly noise = new Map<AdapterId | 'ceiling', number>();
  readonly footnotes: string[] = [];

  set(metric: MetricId, id: AdapterId, cell: Cell): void {
    if (!this.cells.has(metric)) this.cells.set(metric, new Map());
    this.cells.get(metric)!.set(id, cell);
  }

  setBatchMs(metric: MetricId, id: AdapterId, ms: number): void {
    if (!this.batchMs.has(metric)) this.batchMs.set(metric, new Map());
    this.batchMs.get(metric)!.set(id, ms);
  }

  figure(metric: MetricId, id: AdapterId): Figure | undefined {
    const cell = this.cells.get(metric)?.get(id);
    return cell && 'median' in cell ? cell : undefined;
  }
}
