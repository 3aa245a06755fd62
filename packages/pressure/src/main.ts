#!/usr/bin/env node
/**
 * `node packages/pressure/dist/main.js --listen ... --target ...`: the pressure command on its
 * own, with the herald exit codes (0 stopped, 1 failure with one line on stderr, 2 usage).
 * @herald/cli mounts the same Command as `herald pressure`.
 */
import { CommanderError } from 'commander'
import { pressureCommand } from './command.js'

try {
  await pressureCommand().parseAsync(process.argv)
  process.exit(0)
} catch (err) {
  if (err instanceof CommanderError) process.exit(err.exitCode)
  process.stderr.write(`herald pressure: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}
