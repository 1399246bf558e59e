import { JoinError, Runtime, joinAll } from '../../src/index.js';
import { isPrime } from './tasks.js';

await using rt = new Runtime({ workers: 2 });

// Many handles at once: Promise.all for JoinHandles, without a reaction per handle.
const hs = Array.from({ length: 10_000 }, (_, i) => rt.spawn(isPrime, i));
const flags = await joinAll(hs);
console.log(`primes below 10000: ${flags.filter(Boolean).length}`);

// The first JoinError rejects it, as with Promise.all; every handle counts as observed.
const odd = (n: number): number => {
  if (n % 2 === 1) throw new RangeError(`odd: ${n}`);
  return n;
};
try {
  await joinAll([rt.spawn(odd, 2), rt.spawn(odd, 3)]);
} catch (e) {
  const err = e as JoinError;
  console.log(`${err.isPanic()}: ${(err.intoPanic() as Error).message}`);
}
// Output:
// primes below 10000: 1229
// true: odd: 3
