import { Runtime, spawn } from '../../src/index.js';
import { greet } from './messages.js';

const rt = new Runtime({ workers: 2 });
// tokio::run: run a main function; resolve once it and every task it spawned are done.
const greetings = await rt.run(() => Promise.all([0, 1, 2, 3].map((i) => spawn(greet, i))));
for (const g of greetings) console.log(g);
await rt.shutdown();
// Output:
// Hello from task 0
// Hello from task 1
// Hello from task 2
// Hello from task 3
