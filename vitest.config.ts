import { defineConfig } from 'vitest/config';

// Tests run from the compiled tree (dist/test): worker threads on Node 20 cannot
// import .ts, and task modules must be importable by the workers at the same URL
// the test saw. `npm test` builds first.
export default defineConfig({
  test: {
    include: ['dist/test/**/*.test.js'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
