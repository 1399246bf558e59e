// A task the machines never load: spawning it remotely must fail with a
// JoinError naming the task and the machine.
import { task } from '../../src/index.js';

export const notOnMachines = task('test/not-on-machines', function notOnMachines(): number {
  return 1;
});
