import { readFileSync } from 'node:fs'
import { Command, CommanderError, Help } from 'commander'
import { HeraldError } from '@herald/client'
import { COMMANDS } from './commands/index.js'
import { UsageError } from './util.js'

const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version

/** Help or the version was printed: the process ends with this code. */
class Done extends Error {
  constructor(readonly code: number) {
    super('done')
  }
}

function usageLine(cmd: Command): string {
  return `herald ${cmd.name()} ${cmd.usage()}`
}

function mainHelp(program: Command): string {
  return `herald ${VERSION}: service-addressed messaging (request/reply, broadcast, pub/sub, tunnels)

Usage:
${program.commands.map((c) => `  ${usageLine(c)}`).join('\n')}

Run "herald COMMAND --help" for a command's options. Exit codes: 0 ok, 1 failure, 2 usage error.
`
}

/**
 * Commander reports every parse problem and help request through this: help and the version
 * end with 0; anything else is a usage error, one line naming the command's usage.
 */
function exitOverride(cmd: Command, program: Command): (err: CommanderError) => never {
  return (err) => {
    if (err.exitCode === 0) throw new Done(0)
    const what = err.message.replace(/^error: /, '').replace(/\.$/, '')
    if (cmd === program) throw new UsageError(`${what} (commands: ${program.commands.map((c) => c.name()).join(', ')})`)
    throw new UsageError(`${what}; usage: ${usageLine(cmd)}`)
  }
}

/** The `herald` program: every command of the registry (commands/index.ts). */
export function createProgram(): Command {
  const program = new Command('herald')
    .version(VERSION, '-v, --version')
    .configureHelp({ formatHelp: (cmd, helper) => (cmd.parent === null ? mainHelp(cmd) : Help.prototype.formatHelp.call(helper, cmd, helper)) })
    .configureOutput({ outputError: () => {} })
  for (const make of COMMANDS) {
    const cmd = make()
    program.addCommand(cmd)
    cmd.copyInheritedSettings(program)
    cmd.allowExcessArguments(false).exitOverride(exitOverride(cmd, program))
  }
  return program.exitOverride(exitOverride(program, program))
}

/** Runs `herald` with `argv` (no node, no script); returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const program = createProgram()
  if (argv.length === 0) {
    process.stdout.write(program.helpInformation())
    return 2
  }
  try {
    await program.parseAsync(argv, { from: 'user' })
    return 0
  } catch (err) {
    if (err instanceof Done) return err.code
    if (err instanceof UsageError) {
      process.stderr.write(`herald: ${err.message}\n`)
      return 2
    }
    const msg = err instanceof HeraldError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err)
    process.stderr.write(`herald: ${msg.replace(/\s*[\r\n]+\s*/g, ' ')}\n`) // one line, even for a multi-line remote error
    return 1
  }
}
