/**
 * The demo: a fork-join Fibonacci on spindle, against the same computation on
 * one thread. Prints the speedup and what each worker did (tasks run, steals).
 *
 *   npm run demo            (workers: os.availableParallelism())
 *   npm run demo -- 4       (4 workers)
 */
import { availableParallelism } from 'node:os';
import { Runtime } from '../src/index.js';
import { fib, fibSeq, taskCount } from './fib.js';

const workers = Number(process.argv[2] ?? availableParallelism());
const N = 36;
const CUTOFF = 18;
const ROUNDS = 5;

const median = (xs: number[]): number => xs.slice().sort((a, b) => a - b)[xs.length >> 1]!;

const rt = new Runtime({ workers });
await rt.spawn(fib, 20, 10); // start the workers and load the task module

const seq: number[] = [];
const par: number[] = [];
let expected = 0;
let got = 0;
for (let r = 0; r < ROUNDS; r++) {
  let t = performance.now();
  expected = fibSeq(N);
  seq.push(performance.now() - t);
  t = performance.now();
  got = await rt.spawn(fib, N, CUTOFF);
  par.push(performance.now() - t);
}
if (got !== expected) throw new Error(`wrong answer: ${got} != ${expected}`);

const m = rt.metrics();
await rt.shutdown();

const s = median(seq);
const p = median(par);
console.log(`fib(${N}) = ${got} with ${taskCount(N, CUTOFF)} tasks per run (cutoff ${CUTOFF}), median of ${ROUNDS} runs`);
console.log(`one thread: ${s.toFixed(1)} ms   spindle, ${workers} workers: ${p.toFixed(1)} ms   speedup ${(s / p).toFixed(2)}x`);
console.log(`efficiency: ${((s / p / workers) * 100).toFixed(0)}% of perfect scaling\n`);
console.log('worker  tasks run  inline joins  steals  stolen from  parks');
m.workers.forEach((w, i) =>
  console.log(
    `${String(i).padStart(6)}  ${String(w.tasksRun).padStart(9)}  ${String(w.inlineJoins).padStart(12)}  ${String(w.steals).padStart(6)}  ${String(w.stolenFrom).padStart(11)}  ${String(w.parks).padStart(5)}`,
  ),
);
