// workerpool needs its own worker entry point that registers the methods.
import workerpool from 'workerpool';
import { tasks } from '../tasks.js';

workerpool.worker(tasks);
