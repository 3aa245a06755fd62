#!/usr/bin/env -S node --max-semi-space-size=4
// --max-semi-space-size=4 (MiB): V8's young generation stays small (it grows to 16 MiB by
// default during start-up and stays there). Against 16: idle RSS 88 → 83 MiB, peak RSS under
// the 64 B pub/sub benchmark ~145 → ~97 MiB with more msg/s (a nursery that fits the caches).
// 2 MiB saved 2 MiB more but cost tunnels (64 KiB messages) ~40% of their throughput
// (docs/performance.md).
// `npm start` and the test harness pass the same flag (RELAY_NODE_FLAGS in test/harness.ts).
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
