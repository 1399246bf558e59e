import { parentPort } from 'node:worker_threads';
import { fib, spin } from '../tasks.js';

/** A list of spin jobs (iterations), or `{ fib: [k, ...] }`: sum fib(k) over the list. */
parentPort!.on('message', (jobs: number[] | { fib: number[] }) => {
  let x = 0;
  if (Array.isArray(jobs)) for (const iterations of jobs) x ^= spin(iterations);
  else for (const k of jobs.fib) x += fib(k);
  parentPort!.postMessage(x);
});
