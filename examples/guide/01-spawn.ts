import { spawn } from '../../src/index.js';
import { add } from './tasks.js';

const handle = spawn(add, 40, 2); // returns at once: the task runs on a worker thread
console.log(`task ${typeof handle.id} id, finished yet: ${handle.isFinished()}`);
const value = await handle; // a JoinHandle is a Promise; the result type (number) is inferred
console.log(`add(40, 2) = ${value}`);
// Output:
// task number id, finished yet: false
// add(40, 2) = 42
