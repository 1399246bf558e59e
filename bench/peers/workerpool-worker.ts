// workerpool needs its own worker entry point that registers the methods.
import workerpool from 'workerpool';
import { tasks, tinyChunk } from '../tasks.js';

workerpool.worker({ ...tasks, tinyChunk });
