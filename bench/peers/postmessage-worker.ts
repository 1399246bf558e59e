import { parentPort } from 'node:worker_threads';
import { tasks, type TaskName } from '../tasks.js';

parentPort!.on('message', ([id, task, arg]: [number, TaskName, number]) => {
  try {
    parentPort!.postMessage([id, true, tasks[task](arg)]);
  } catch (e) {
    parentPort!.postMessage([id, false, e]);
  }
});
