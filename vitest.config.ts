import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 180_000,
    // PGlite and Chromium are memory- and CPU-hungry; two cores, so at most two files at once.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
