import { Runtime } from '../../src/index.js';
import { countPrimes, sleepThen } from './tasks.js';

const rt = new Runtime({ workers: 1 });

// Concurrency: on ONE worker, a task that awaits a timer does not block the
// worker: the task spawned second finishes first.
const slow = rt.spawn(sleepThen, 300, 'slow');
const fast = rt.spawn(sleepThen, 10, 'fast');
console.log(`first to finish: ${await Promise.race([slow, fast])}`);
await slow;
await rt.shutdown();

// Parallelism: CPU-bound tasks run on several threads at once.
const rt2 = new Runtime({ workers: 2 });
const parts = await Promise.all([0, 1, 2, 3].map((i) => rt2.spawn(countPrimes, i * 50_000, (i + 1) * 50_000)));
console.log(`primes below 200000: ${parts.reduce((a, b) => a + b, 0)}`);
await rt2.shutdown();
// Output:
// first to finish: fast
// primes below 200000: 17984
