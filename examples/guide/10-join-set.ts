import { JoinSet, scope } from '../../src/index.js';
import { countPrimes, sleepThen } from './tasks.js';

// A JoinSet owns many tasks and yields their values as they finish.
const set = new JoinSet<string>();
set.spawn(sleepThen, 400, 'slow');
set.spawn(sleepThen, 10, 'fast');
set.spawn(sleepThen, 200, 'medium');
for (let v = await set.joinNext(); v !== undefined; v = await set.joinNext()) console.log(v);

// A scope finishes when every task spawned in it has; a panic aborts the others.
const total = await scope(async (s) => {
  const parts = [0, 1].map((i) => s.spawn(countPrimes, i * 100_000, (i + 1) * 100_000));
  return (await parts[0]!) + (await parts[1]!);
});
console.log(`primes below 200000: ${total}`);
// Output:
// fast
// medium
// slow
// primes below 200000: 17984
