#!/usr/bin/env -S node --max-semi-space-size=2
// --max-semi-space-size=2 (MiB): V8's young generation stays small. A relay allocates little
// that lives long, so a 16 MiB nursery only costs memory: idle RSS 85 → 77 MiB; under the
// 64 B pub/sub benchmark peak RSS 136–141 → 89–101 MiB and throughput +13–20% (a nursery that
// fits the caches); 1 KiB rows unchanged (docs/performance.md).
// `npm start` and the test harness pass the same flag (RELAY_NODE_FLAGS in test/harness.ts).
// The `herald` command. This launcher is committed (npm links it into node_modules/.bin at
// install time, before anything is built); the program is the compiled dist/main.js.
try {
  await import('../dist/main.js')
} catch (err) {
  if (err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/main.js')) {
    process.stderr.write('herald: the CLI is not built yet: run `npm run build` (npm start and npm test build first)\n')
    process.exit(1)
  }
  throw err
}
