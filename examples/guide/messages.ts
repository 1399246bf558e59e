// The tasks of "Communicating with tasks". Workers import this module too.
import { mpsc, oneshot, task } from '../../src/index.js';

export const greet = task(import.meta.url, function greet(i: number): string {
  return `Hello from task ${i}`;
});

export const sendHello = task(import.meta.url, function sendHello(tx: oneshot.Sender<string>): void {
  tx.send('hello from spawned task'); // a oneshot sends once; the sender is spent
});

export const sendMessages = task(import.meta.url, async function sendMessages(tx: mpsc.Sender<string>, n: number): Promise<void> {
  using sender = tx; // dropped at the end of the task: the receiver then sees the end
  for (let i = 0; i < n; i++) await sender.send(`Message ${i} from spawned task`);
});
