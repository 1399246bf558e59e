// poolifier needs its own worker entry point: a ThreadWorker holding the named functions.
// Its task data is typed optional, hence the `!` (the benchmark always passes a number).
import { ThreadWorker } from 'poolifier';
import { fib, spin, tiny } from '../tasks.js';

export default new ThreadWorker<number, number>({
  tiny: (x) => tiny(x!),
  spin: (x) => spin(x!),
  fib: (x) => fib(x!),
});
