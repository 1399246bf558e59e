import { mpsc, select } from '../../src/index.js';

const [atx, a] = mpsc.unbounded<string>();
const [btx, b] = mpsc.unbounded<string>();

// Racing raw recv() promises loses messages: each recv() takes its value at once.
atx.trySend('a1');
btx.trySend('b1');
const first = await Promise.race([a.recv(), b.recv()]);
console.log(`Promise.race got ${first}; still queued: ${a.len() + b.len()} (b1 is lost)`);

// select() takes from exactly one branch: the one it returns.
const r1 = await select({ a, b, timeout: AbortSignal.timeout(20) });
console.log(`select: ${r1.key}`);
btx.trySend('b2');
const r2 = await select({ a, b, timeout: AbortSignal.timeout(1000) });
console.log(`select: ${r2.key} ${r2.value}; still queued: ${a.len() + b.len()}`);
// Output:
// Promise.race got a1; still queued: 0 (b1 is lost)
// select: timeout
// select: b b2; still queued: 0
