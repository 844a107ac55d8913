import { defineConfig } from 'vitest/config';

// Integration suites start real servers (redis-server, PHP, MediaWiki); two cores, so keep parallelism low.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
