/**
 * Every adapter runs each kind of task before anything is timed: threads are
 * started, the JIT has compiled the task bodies and the pool's own paths, and
 * a pool that returns wrong results fails here rather than in a figure.
 */
import type { Adapter } from './adapter.js';

export async function warmUp(a: Adapter, spinPerMs: number): Promise<void> {
  const answer = await a.run('tiny', 41);
  if (answer !== 42) throw new Error(`tiny(41) returned ${answer}`);
  await Promise.all(Array.from({ length: 5_000 }, (_, i) => a.run('tiny', i)));
  for (let i = 0; i < 200; i++) await a.run('tiny', i);
  await Promise.all(Array.from({ length: 20 }, () => a.run('spin', spinPerMs)));
  await a.run('fib', 20);
  if (a.forkJoin) await a.forkJoin(25, 15);
}
