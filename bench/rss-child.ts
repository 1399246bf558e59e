/**
 * Child process for the RSS scenario: starts one adapter, submits `tasks` tiny
 * tasks without awaiting in between, and reports the highest RSS it saw. The
 * submit loop is synchronous, so no result is processed before the last task
 * is submitted: all of them are outstanding at once. RSS is sampled inside
 * that loop and by a timer while the results drain.
 *
 * argv: <adapter id> <workers> <tasks> [Promise.all | joinAll]; replies with one IPC message.
 */
import { adapters, type AdapterId } from './adapters/index.js';
import type { Adapter } from './adapter.js';
import type { ChildReport } from './scenarios/rss.js';

const [id, workers, tasks, join] = process.argv.slice(2) as [AdapterId, string, string, string | undefined];
const count = Number(tasks);
const adapter = adapters[id]();
const reply = (r: ChildReport): Promise<void> =>
  new Promise((resolve) => process.send!(r, () => resolve()));

let peak = process.memoryUsage.rss();
const sample = (): void => void (peak = Math.max(peak, process.memoryUsage.rss()));
// Started first: the timer also keeps the event loop alive for pools whose threads are unref'd.
const timer = setInterval(sample, 5);

try {
  await adapter.start(Number(workers));
  await Promise.all(Array.from({ length: 1000 }, (_, i) => adapter.run('tiny', i)));
} catch (e) {
  await reply({ skipped: String(e) });
  process.exit(0); // a half-started pool may hold the event loop open
}

const pending = new Array<PromiseLike<number>>(count);
for (let i = 0; i < count; i++) {
  pending[i] = adapter.run('tiny', i);
  if ((i & 1023) === 0) sample();
}
sample();
await (join === 'joinAll' ? (adapter as Adapter).joinAll!(pending) : Promise.all(pending));
sample();
clearInterval(timer);
await reply({ peakMiB: peak / 2 ** 20 });
await adapter.close();
process.exit(0);
