/**
 * Round-trip latency: one task in flight at a time, so nothing is batched and
 * every submission has to wake an idle worker and every result an idle main
 * thread. Several rounds; the figure is the median of the rounds' p50 (p99).
 */
import type { Adapter } from '../adapter.js';
import { figureOf, timeCalls, type Figure } from '../measure.js';

export async function roundTrip(a: Adapter, calls: number, rounds: number): Promise<{ p50: Figure; p99: Figure }> {
  const p50: number[] = [];
  const p99: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const stats = await timeCalls(`${a.name} round trip ${r}`, calls, () => a.run('tiny', r));
    p50.push(stats.p50 * 1000);
    p99.push(stats.p99 * 1000);
  }
  return { p50: figureOf(p50), p99: figureOf(p99) };
}
