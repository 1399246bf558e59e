import { mpsc, spawn } from '../../src/index.js';
import { sendMessages } from './messages.js';

const [tx, rx] = mpsc.channel<string>(1024);
spawn(sendMessages, tx, 10);
// The loop ends when every sender is dropped (the task drops its own when it returns).
for await (const msg of rx) console.log(`Got \`${msg}\``);
// Output:
// Got `Message 0 from spawned task`
// Got `Message 1 from spawned task`
// Got `Message 2 from spawned task`
// Got `Message 3 from spawned task`
// Got `Message 4 from spawned task`
// Got `Message 5 from spawned task`
// Got `Message 6 from spawned task`
// Got `Message 7 from spawned task`
// Got `Message 8 from spawned task`
// Got `Message 9 from spawned task`
