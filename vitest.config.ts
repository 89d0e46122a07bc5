import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    globalSetup: ['test/helpers/global-setup.ts'],
    // rtc-node's native client is one per process: forks keep test files apart.
    pool: 'forks',
    // One file at a time: the e2e files each run real-time audio through rtc-node, and on a
    // 2-core machine two of them side by side starve each other (BENCHMARKS.md).
    fileParallelism: false,
    // No retries: a test that fails once is a bug to find (issue 16). Real-time tests wait
    // for what they need with generous bounds instead of fixed windows.
    retry: 0,
    // rtc-node logs at debug to stdout unless NODE_ENV=production (read once, at import);
    // nothing else here reads NODE_ENV, and tests pass explicit modes where it matters.
    env: { NODE_ENV: 'production' },
    testTimeout: 60_000,
    hookTimeout: 60_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
});
