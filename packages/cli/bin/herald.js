#!/usr/bin/env node
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
