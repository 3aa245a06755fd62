#!/usr/bin/env -S node --max-semi-space-size=4 --initial-old-space-size=64
// --max-semi-space-size=4 (MiB): V8's young generation stays small (it grows to 16 MiB by
// default during start-up and stays there). Against 16: idle RSS 88 → 83 MiB, peak RSS under
// the 64 B pub/sub benchmark ~145 → ~97 MiB with more msg/s (a nursery that fits the caches).
// 2 MiB saved 2 MiB more but cost tunnels (64 KiB messages) ~40% of their throughput
// (docs/performance.md).
// --initial-old-space-size=64 (MiB): the limits V8 weighs a relay's garbage against start
// higher. With its default (an old generation sized to the ~10 MiB a relay keeps, a limit near
// 22 MiB) the 64 KiB buffers a relay moves data in — socket reads, write batches, Noise's
// output — made V8 run a full mark-compact ~10 times a second under 1 KiB pub/sub: relay CPU
// per message 2.7 → 1.1 µs through one relay, 147 k → 229 k msg/s across two; idle RSS the same
// (docs/performance.md, "V8's old-generation limit").
// `npm start`, the test harness and the testkit pass the same flags (RELAY_NODE_FLAGS in test/harness.ts).
// The `herald` command. This launcher is committed (npm links it into node_modules/.bin at
// install time, before anything is built); the program is bundle/main.js, the compiled
// dist/ bundled by scripts/bundle.mjs (`npm run build`): ~12 MiB less RSS per relay than
// loading ~700 modules from node_modules (docs/performance.md).
try {
  await import('../bundle/main.js')
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('bundle/main.js')) {
    process.stderr.write('herald: the CLI is not built yet: run `npm run build` (npm start and npm test build first)\n')
    process.exit(1)
  }
  throw err
}
