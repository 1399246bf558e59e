/**
 * `npm run bench:scale` options:
 *
 *   npm run bench:scale                          workers 1, 2, 4, … up to the CPU count
 *   npm run bench:scale -- 1,2,4,8,16            (or --workers 1,2,4,8,16)
 *   npm run bench:scale -- 1,2,3 --quick         fewer rounds, smaller CPU batches
 *   npm run bench:scale -- --cpu-jobs 800 --rounds 7
 *
 * The tiny-task and round-trip sizes are the suite's (sizes.ts), so those
 * columns can be set beside `npm run bench`'s figures.
 */
import { flag } from './argv.js';
import { sizesFor, type Sizes } from './sizes.js';

export interface ScaleOptions {
  counts: number[];
  quick: boolean;
  /** Interleaved rounds per worker count; every ratio is the median over them. */
  rounds: number;
  /** ~1 ms tasks in the CPU-bound batch (the skewed batch has as many, 1 % of them 50×). */
  cpuJobs: number;
  /** fib(fibN) with sequential leaves at n ≤ fibCutoff: the one-worker figure is stated for fib(38), n ≤ 16. */
  fibN: number;
  fibCutoff: number;
  tiny: Pick<Sizes, 'tinyTasks' | 'tinyRounds' | 'latencyCalls' | 'latencyRounds'>;
  /**
   * Whether the report replaces the committed bench/results/scale-latest.md:
   * any worker list (the many-core machine is run with an explicit one), but
   * only at the standard sizes, so that file always holds comparable figures.
   */
  full: boolean;
  /** The command that reproduces this run, printed with the results. */
  command: string;
}

/**
 * 400 × 1 ms, not the suite's 2,000: every round runs the batch sequentially
 * and on three contenders, and a 2-core machine must finish the default list
 * in a couple of minutes. Five rounds, because the issue saw the sequential
 * baseline itself move 2× between runs and one round cannot show that.
 */
const DEFAULTS = { full: { rounds: 5, cpuJobs: 400 }, quick: { rounds: 3, cpuJobs: 200 } };

/** 1, 2, 4, … and the CPU count itself when it is not a power of two: the full width is the row that matters most. */
export function defaultCounts(cpus: number): number[] {
  const out: number[] = [];
  for (let n = 1; n <= cpus; n *= 2) out.push(n);
  if (out.at(-1) !== cpus) out.push(cpus);
  return out;
}

const VALUED = ['workers', 'rounds', 'cpu-jobs'];

function positiveInt(raw: string, what: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${what} must be a positive integer, got '${raw}'`);
  return n;
}

export function parseScaleOptions(argv: string[], cpus: number): ScaleOptions {
  const quick = argv.includes('--quick');
  const defaults = quick ? DEFAULTS.quick : DEFAULTS.full;
  // The list may also come bare (`scale.js 1,2,4`), anywhere but as another flag's value.
  const bare = argv.filter((a, i) => !a.startsWith('--') && !VALUED.some((f) => argv[i - 1] === `--${f}`));
  if (bare.length > 1) throw new Error(`one worker list expected, got ${bare.join(' ')}`);
  const positional = bare[0];
  const list = flag(argv, 'workers') ?? positional;
  const counts = list === undefined ? defaultCounts(cpus) : list.split(',').map((s) => positiveInt(s.trim(), 'a worker count'));
  if (counts.length === 0) throw new Error('no worker counts given');
  const rawRounds = flag(argv, 'rounds');
  const rawJobs = flag(argv, 'cpu-jobs');
  const rounds = rawRounds === undefined ? defaults.rounds : positiveInt(rawRounds, '--rounds');
  const cpuJobs = rawJobs === undefined ? defaults.cpuJobs : positiveInt(rawJobs, '--cpu-jobs');
  const sizes = sizesFor(quick);

  const args = [counts.join(',')];
  if (quick) args.push('--quick');
  if (cpuJobs !== defaults.cpuJobs) args.push(`--cpu-jobs ${cpuJobs}`);
  if (rounds !== defaults.rounds) args.push(`--rounds ${rounds}`);
  return {
    counts, quick, rounds, cpuJobs, fibN: 38, fibCutoff: 16,
    tiny: { tinyTasks: sizes.tinyTasks, tinyRounds: sizes.tinyRounds, latencyCalls: sizes.latencyCalls, latencyRounds: sizes.latencyRounds },
    full: !quick && rounds === DEFAULTS.full.rounds && cpuJobs === DEFAULTS.full.cpuJobs,
    command: `npm run bench:scale -- ${args.join(' ')}`,
  };
}
