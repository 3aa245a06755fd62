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
      { extends: true, test: { name: 'processes', include: ['test/**/*.test.ts'], exclude: ['test/pressure/**'] } },
      // The pressure scenarios (latency, loss, bandwidth, partitions, freezes between real relays)
      // run last and one file at a time: each is a timing scenario on its own, and two at once on
      // two cores starve each other's relays of CPU — a failure detector that sees a relay run
      // slowly for seconds beside a lossy path is then testing the host, not the scenario.
      { extends: true, test: { name: 'pressure', include: ['test/pressure/**/*.test.ts'], fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
})
