/**
 * Tiny-task throughput: submit every task at once, then await them all. With
 * a task that is one addition, this is the cost of dispatch, queueing and
 * result delivery, which is what a task runtime adds to every task.
 */
import type { Adapter } from '../adapter.js';
import { figureFromTimes, timeBatches, type Figure, type Rounds } from '../measure.js';

export async function tinyThroughput(a: Adapter, tasks: number, rounds: Rounds, join: 'Promise.all' | 'joinAll' = 'Promise.all'): Promise<Figure> {
  const all = join === 'joinAll' ? a.joinAll!.bind(a) : (p: PromiseLike<number>[]) => Promise.all(p);
  const stats = await timeBatches(`${a.name} tiny (${join})`, rounds, async () => {
    const pending = new Array<PromiseLike<number>>(tasks);
    for (let i = 0; i < tasks; i++) pending[i] = a.run('tiny', i);
    const results = await all(pending);
    if (results[tasks - 1] !== tasks) throw new Error(`tiny(${tasks - 1}) returned ${results[tasks - 1]}`);
  });
  return figureFromTimes(stats, (ms) => (tasks * 1000) / ms);
}
