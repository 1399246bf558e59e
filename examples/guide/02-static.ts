import { spawn, type JoinError } from '../../src/index.js';

const greeting = 'hello';

// An inline function is shipped to the worker as source: it captures nothing.
try {
  await spawn((name: string) => `${greeting}, ${name}`, 'world');
} catch (e) {
  const panic = (e as JoinError).intoPanic() as Error;
  console.log(panic.message.split(' — ')[0]);
}

// Pass what the task needs as arguments instead.
console.log(await spawn((g: string, name: string) => `${g}, ${name}`, greeting, 'world'));
// Output:
// greeting is not defined
// hello, world
