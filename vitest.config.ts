import { defineConfig } from 'vitest/config';

// Integration suites start real servers (redis-server, PHP, MediaWiki); two cores, so keep parallelism low.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Hooks start real servers; the Kafka broker fixture alone allows itself 60 s to format and 90 s
    // to start on a loaded machine (src/farm/kafka-broker.ts).
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 2,
    reporters: ['default'],
  },
});
