/** The bench's jobs as spindle tasks (registry names: found the same on every machine). */
import { task } from '../src/index.js';
import { spin as spinBody } from './tasks.js';

export const spin = task('bench/spin', function spin(iterations: number): number {
  return spinBody(iterations);
});

export const tiny = task('bench/tiny', function tiny(x: number): number {
  return x + 1;
});
