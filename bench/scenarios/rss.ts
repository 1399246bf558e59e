/**
 * Peak RSS with 100,000 tasks outstanding. Memory is per process, so each
 * adapter runs in a fresh child (rss-child.ts) and nothing measured before it
 * (heaps grown by earlier scenarios, other pools' threads) is counted.
 */
import { fork } from 'node:child_process';
import type { AdapterId } from '../adapters/index.js';
import { figureOf, type Figure } from '../measure.js';

export type ChildReport = { peakMiB: number } | { skipped: string };

/** A child that has not reported by then has lost a task; the slowest peer needs ~15 s for 100,000. */
const CHILD_TIMEOUT_MS = 60_000;

function runChild(id: AdapterId, workers: number, tasks: number, join: string): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = fork(new URL('../rss-child.js', import.meta.url), [id, String(workers), String(tasks), join], {
      timeout: CHILD_TIMEOUT_MS,
    });
    let report: ChildReport | undefined;
    child.on('message', (m: ChildReport) => (report = m));
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      report ? resolve(report) : reject(new Error(`RSS child for ${id} exited with ${signal ?? code}`)),
    );
  });
}

export async function peakRss(
  id: AdapterId,
  workers: number,
  tasks: number,
  rounds: number,
  join: 'Promise.all' | 'joinAll' = 'Promise.all',
): Promise<Figure | { skipped: string }> {
  const peaks: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const report = await runChild(id, workers, tasks, join);
    if ('skipped' in report) return report;
    peaks.push(report.peakMiB);
  }
  return figureOf(peaks);
}
