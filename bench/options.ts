/**
 * Command-line and environment options. Every flag has an environment twin
 * (BENCH_WORKERS, BENCH_ONLY, BENCH_PEERS, BENCH_QUICK) for CI scripts that
 * cannot pass argv through npm.
 */
import { PEERS, type AdapterId } from './adapters/index.js';
import { flag } from './argv.js';

export const SCENARIOS = ['tiny', 'latency', 'cpu', 'skewed', 'fib', 'bulk', 'rss'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface Options {
  workers: number;
  scenarios: ScenarioId[];
  /** Adapters to run, in report order; spindle and the one-thread baseline are always included. */
  adapters: AdapterId[];
  quick: boolean;
  /** The command that reproduces this run, printed with the results. */
  command: string;
}

function list<T extends string>(raw: string | undefined, allowed: readonly T[], what: string): T[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const items = raw.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of items) {
    if (!allowed.includes(s as T)) throw new Error(`unknown ${what} '${s}'; expected one of: ${allowed.join(', ')}`);
  }
  return items as T[];
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options {
  const workers = Number(flag(argv, 'workers') ?? env.BENCH_WORKERS ?? 2);
  if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer`);
  const scenarios = list(flag(argv, 'only') ?? env.BENCH_ONLY, SCENARIOS, 'scenario') ?? [...SCENARIOS];
  const peers = list(flag(argv, 'peers') ?? env.BENCH_PEERS, PEERS, 'peer') ?? [...PEERS];
  const quick = argv.includes('--quick') || env.BENCH_QUICK === '1';
  const adapters: AdapterId[] = ['spindle', ...PEERS.filter((p) => peers.includes(p)), 'one-thread'];

  const args = [`--workers ${workers}`];
  if (scenarios.length < SCENARIOS.length) args.push(`--only ${scenarios.join(',')}`);
  if (peers.length < PEERS.length) args.push(`--peers ${peers.join(',')}`);
  if (quick) args.push('--quick');
  return { workers, scenarios, adapters, quick, command: `npm run bench -- ${args.join(' ')}` };
}
