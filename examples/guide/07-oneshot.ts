import { oneshot, spawn } from '../../src/index.js';
import { sendHello } from './messages.js';

const [tx, rx] = oneshot<string>();
spawn(sendHello, tx); // the sender moves into the task (like an Arc)
console.log(`Got \`${await rx}\``); // await the receiver (or rx.recv())
// Output:
// Got `hello from spawned task`
