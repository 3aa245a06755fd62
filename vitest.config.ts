import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real relay processes; two cores, so keep parallelism modest.
    maxWorkers: 2,
    // Two tiers: `vitest run --project memory` (seconds, no processes) and `--project processes`.
    projects: [
      { extends: true, test: { name: 'memory', include: ['packages/*/test/**/*.test.ts'] } },
      { extends: true, test: { name: 'processes', include: ['test/**/*.test.ts'] } },
    ],
  },
})
