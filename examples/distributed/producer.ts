// producer.ts — sends tasks to the machines serving the queue 'reports'
import { bullRuntime } from 'spindle/bullmq';
import { render } from './tasks.js';

await using remote = bullRuntime({ connection: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', queue: 'reports' });
const q3 = remote.spawn(render, 'Q3', 2); // a handle at once; the job id is known
const q4 = remote.spawnWith({ priority: 1, attempts: 3, backoff: { type: 'exponential', delay: 1000 } }, render, 'Q4', 1);
console.log(`job ids: ${typeof q3.id}, ${typeof q4.id}`);
console.log(await q3);
console.log(await q4);
// Output:
// job ids: string, string
// [ 'Q3 page 1', 'Q3 page 2' ]
// [ 'Q4 page 1' ]
