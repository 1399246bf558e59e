/** The heavy job as a spindle task (workers import this module: no side effects). */
import { task } from '../../src/index.js';
import { derive } from './work.js';

export const heavy = task(import.meta.url, function heavy(password: string): string {
  return derive(password);
});
