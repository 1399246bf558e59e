import { Runtime } from '../../src/index.js';
import { sum } from './tasks.js';

await using rt = new Runtime({ workers: 2 });
const xs = Array.from({ length: 100_000 }, (_, i) => i);
console.log(`sum = ${await rt.spawn(sum, xs)}`);
const tasks = rt.metrics().workers.reduce((n, w) => n + w.tasksRun, 0);
console.log(`tasks run: ${tasks}`);
// Output:
// sum = 4999950000
// tasks run: 255
