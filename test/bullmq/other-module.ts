// Defines a registry name another module (tasks.ts) already uses: importing it must fail.
import { task } from '../../src/index.js';

export const clash = task('test/square', function clash(): number {
  return 0;
});
