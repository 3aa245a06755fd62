#!/usr/bin/env node
// Makes `npm start` / `npm test` work as the first command on a fresh clone: installs
// dependencies when they are missing or stale, then builds incrementally (quick when
// nothing changed). Plain Node, no dependencies: it runs before anything is installed.
import { execSync } from 'node:child_process'
import { existsSync, statSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const run = (cmd, env = process.env) => execSync(cmd, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env })
const mtime = (p) => (existsSync(join(root, p)) ? statSync(join(root, p)).mtimeMs : 0)

const marker = 'node_modules/.package-lock.json'
if (!existsSync(join(root, marker)) || mtime('package-lock.json') > mtime(marker)) {
  console.error('herald: installing dependencies (first run) ...')
  run(existsSync(join(root, 'package-lock.json')) ? 'npm ci --no-audit --no-fund' : 'npm install --no-audit --no-fund')
}
run('npx --no-install tsc -b')
// The herald command runs from a bundle of dist/ (scripts/bundle.mjs, about a second).
run('node scripts/bundle.mjs', { ...process.env, HERALD_BUNDLE_QUIET: '1' })
