// poolifier needs its own worker entry point: a ThreadWorker holding the named functions.
// Its task data is typed optional, hence the `!` (the benchmark always passes a number).
import { ThreadWorker } from 'poolifier';
import { fib, spin, tiny, tinyChunk } from '../tasks.js';

export default new ThreadWorker<number | number[], number | number[]>({
  tiny: (x) => tiny(x as number),
  spin: (x) => spin(x as number),
  fib: (x) => fib(x as number),
  tinyChunk: (xs) => tinyChunk(xs as number[]),
});
