import { parentPort } from 'node:worker_threads';
import { tasks, tinyChunk, type TaskName } from '../tasks.js';

parentPort!.on('message', ([id, task, arg]: [number, TaskName | 'tinyChunk', number | number[]]) => {
  try {
    const value = task === 'tinyChunk' ? tinyChunk(arg as number[]) : tasks[task](arg as number);
    parentPort!.postMessage([id, true, value]);
  } catch (e) {
    parentPort!.postMessage([id, false, e]);
  }
});
