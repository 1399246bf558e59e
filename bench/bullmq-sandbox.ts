/** The bench's jobs as a BullMQ sandboxed processor file (run on worker threads with useWorkerThreads). */
import { spin } from './tasks.js';

export default function processor(job: { data: { k: 'spin' | 'tiny'; n: number } }): number {
  return job.data.k === 'spin' ? spin(job.data.n) : job.data.n + 1;
}
