import { defineConfig } from 'vitest/config';

// Integration tests share one PostgreSQL and one Kafka on a 2-core machine; running files one at
// a time keeps their timing assumptions (leases, relay processes) honest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
