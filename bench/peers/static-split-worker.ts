import { parentPort } from 'node:worker_threads';
import { spin } from '../tasks.js';

parentPort!.on('message', (jobs: number[]) => {
  let x = 0;
  for (const iterations of jobs) x ^= spin(iterations);
  parentPort!.postMessage(x);
});
