import { JoinError, Runtime } from '../../src/index.js';
import { isPrime } from './tasks.js';

await using rt = new Runtime({ workers: 2 });

// One task per chunk of items, not per item; the results come back in input order.
const ns = Array.from({ length: 200_000 }, (_, i) => i);
const flags = await rt.map(isPrime, ns);
console.log(`primes below 200000: ${flags.filter(Boolean).length}`);
console.log(`tasks run: ${rt.metrics().workers.reduce((n, w) => n + w.tasksRun, 0)}`);

// An inline function that captures nothing works too; { chunk: 1 } for heavy items.
console.log(await rt.map((s: string) => s.length, ['a', 'bb', 'ccc'], { chunk: 1 }));

// An item that throws fails the map, naming the item; the other chunks are aborted.
try {
  await rt.map((x: number) => (x === 7 ? Promise.reject(new RangeError('seven')) : x), ns.slice(0, 10));
} catch (e) {
  const err = e as JoinError;
  console.log(`item ${err.index}: ${(err.intoPanic() as Error).message}`);
}
// Output:
// primes below 200000: 17984
// tasks run: 25
// [ 1, 2, 3 ]
// item 7: seven
