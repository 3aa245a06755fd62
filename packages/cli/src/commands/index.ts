import type { Command } from 'commander'
import { pressureCommand } from '@herald/pressure'
import { benchCommand } from './bench.js'
import { broadcastCommand } from './broadcast.js'
import { keygenCommand } from './keygen.js'
import { publishCommand } from './publish.js'
import { relayCommand } from './relay.js'
import { requestCommand } from './request.js'
import { serveCommand } from './serve.js'
import { statusCommand } from './status.js'
import { subscribeCommand } from './subscribe.js'

/**
 * Every `herald` subcommand, in the order `herald --help` lists them. Adding one is a file
 * exporting a commander Command factory, and one line here (a package may provide it:
 * `() => pressureCommand()` from @herald/pressure).
 */
export const COMMANDS: ReadonlyArray<() => Command> = [
  relayCommand,
  keygenCommand,
  requestCommand,
  broadcastCommand,
  publishCommand,
  subscribeCommand,
  serveCommand,
  statusCommand,
  benchCommand,
  () => pressureCommand(),
]
