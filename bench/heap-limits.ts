/**
 * Worker young-generation size against speed and memory, for the default of
 * `RuntimeOptions.resourceLimits`: allocation-heavy tasks (`churn`) on two
 * workers, each limit in its own runtime, rounds interleaved so that a noisy
 * machine disturbs every limit alike.
 *
 *   npm run bench:heap
 */
import { Runtime } from '../src/index.js';
import { churn } from './spindle-tasks.js';

/** maxYoungGenerationSizeMb values: V8's own default for a worker (48), spindle's default (12), a small one. */
const LIMITS = [48, 12, 6] as const;
const ROUNDS = 7;
const TASKS = 200;
const ITEMS = 20_000;
const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

const ms = new Map<number, number[]>(LIMITS.map((l) => [l, []]));
const rss = new Map<number, number[]>(LIMITS.map((l) => [l, []]));
for (let r = 0; r < ROUNDS; r++) {
  for (const limit of LIMITS) {
    // A fresh runtime per round and limit: the workers' heaps start from nothing each time.
    const rt = new Runtime({ workers: 2, resourceLimits: { maxYoungGenerationSizeMb: limit } });
    await rt.spawn(churn, 10);
    const before = process.memoryUsage.rss();
    const t = performance.now();
    await Promise.all(Array.from({ length: TASKS }, () => rt.spawn(churn, ITEMS)));
    ms.get(limit)!.push(performance.now() - t);
    rss.get(limit)!.push((process.memoryUsage.rss() - before) / 2 ** 20);
    await rt.shutdown();
  }
}
console.log(`# Worker young generation: ${TASKS} tasks × ${ITEMS.toLocaleString('en')} small objects on 2 workers, median of ${ROUNDS} interleaved rounds\n`);
console.log('| maxYoungGenerationSizeMb | batch ms | RSS growth during the batch, MiB |');
console.log('| ---: | ---: | ---: |');
for (const l of LIMITS) console.log(`| ${l}${l === 12 ? ' (spindle default)' : l === 48 ? ' (V8 default)' : ''} | ${median(ms.get(l)!).toFixed(0)} | ${median(rss.get(l)!).toFixed(0)} |`);
