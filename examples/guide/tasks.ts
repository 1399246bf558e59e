// The guide's task module. Workers import it to find the tasks, so it only
// defines things: no top-level side effects.
import { spawn, task } from '../../src/index.js';

export const add = task(import.meta.url, function add(a: number, b: number): number {
  return a + b;
});

export const sleepThen = task(import.meta.url, async function sleepThen(ms: number, label: string): Promise<string> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return label;
});

export const countPrimes = task(import.meta.url, function countPrimes(from: number, to: number): number {
  let count = 0;
  for (let n = Math.max(2, from); n < to; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
});

export const sum = task(import.meta.url, async function sum(xs: number[]): Promise<number> {
  if (xs.length <= 1000) return xs.reduce((a, b) => a + b, 0);
  const mid = xs.length >> 1;
  const left = spawn(sum, xs.slice(0, mid)); // runs on this worker's deque; idle workers steal it
  const right = spawn(sum, xs.slice(mid));
  return (await left) + (await right);
});

export const isPrime = task(import.meta.url, function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
});
