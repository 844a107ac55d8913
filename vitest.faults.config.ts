import { defineConfig } from 'vitest/config';

// Fault-injection runs (npm run test:faults): real daemons killed, Redis and Kafka restarted, on
// loopback only. Not part of `npm test` (minutes, not seconds); one file at a time so kills and
// timings are not disturbed by other suites on two cores.
export default defineConfig({
  test: {
    include: ['test/faults/**/*.fault.ts'],
    testTimeout: 900_000,
    hookTimeout: 180_000,
    pool: 'forks',
    maxWorkers: 1,
    fileParallelism: false,
    reporters: ['default'],
  },
});
