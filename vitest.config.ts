import { defineConfig } from 'vitest/config';
import LongestFirst from './tests/sequencer.ts';

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    globalSetup: ['tests/global-setup.ts'],
    testTimeout: 120_000,
    // A condition polled for (a page's state after a click or the browser's back) gets 10 s, not 1 s:
    // two test files, two servers and two Chromiums share two cores, and a poll returns the moment it holds.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 180_000,
    // PGlite and Chromium are memory- and CPU-hungry; two cores, so at most two files at once.
    maxWorkers: 2,
    fileParallelism: true,
    // Files in one worker share its modules (each still has its own database and server): the server's
    // module graph was imported once per file, 70–80 s of the suite's summed time; now once per worker.
    isolate: false,
    // the slowest files first, from a kept measurement (CI's clean checkout has no vitest cache to order by)
    sequence: { sequencer: LongestFirst },
    // beside the console's report, each file's start and end (tests/artifacts/vitest.json): where a run's time went, and
    // how long each worker sat idle, read from CI's own run rather than guessed from summed durations
    reporters: ['default', ['json', { outputFile: 'tests/artifacts/vitest.json' }]],
  },
});
