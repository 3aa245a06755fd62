/**
 * `herald pressure`: the proxy in the foreground, as a commander Command that @herald/cli
 * mounts (and dist/main.js runs alone). Settings come from a profile, then the flags, then
 * `--set`; live changes from stdin lines or the HTTP control endpoint; a stats line every
 * `--stats` interval when something changed. Every usage error exits 2 with one line
 * (commander's own errors included: see PressureCommand.error); a failure to listen rejects
 * parseAsync, for the caller to print as one line and exit 1.
 */
import { Command, InvalidArgumentError, Option, type ErrorOptions } from 'commander'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { InvalidSettingError } from './errors.js'
import { PressureProxy } from './proxy.js'
import { PROFILES, profile, profileNames } from './profiles.js'
import { seededRandom } from './random.js'
import type { LinkConfig, PressureConfig } from './settings.js'
import { parseDuration } from './units.js'
import { formatAddress, parseAddress } from './control/address.js'
import { COMMAND_HELP, parseSetArgs, runControlCommand, type CommandResult } from './control/commands.js'
import { settingsLine, statsLine, toJson } from './control/format.js'
import { startControlEndpoint, type ControlEndpoint } from './control/http.js'
import { SETTING_KEYS, parseSetting } from './control/keys.js'

export interface PressureCommandInit {
  stdin?: Readable
  stdout?: Writable
  /** Stops the proxy when aborted; without it SIGINT and SIGTERM do. */
  signal?: AbortSignal
  /** Called once the proxy listens. */
  onReady?: (proxy: PressureProxy) => void
}

/** A Command whose usage errors exit 2, the contract of every herald command. */
class PressureCommand extends Command {
  override error(message: string, errorOptions?: ErrorOptions): never {
    const exitCode = errorOptions?.exitCode === undefined || errorOptions.exitCode === 1 ? 2 : errorOptions.exitCode
    return super.error(message, { ...errorOptions, exitCode })
  }
}

/** commander's argParser from a kit parser: its InvalidSettingError becomes a usage error. */
function parser<T>(parse: (text: string, previous?: T) => T): (text: string, previous?: T) => T {
  return (text, previous) => {
    try {
      return parse(text, previous)
    } catch (err) {
      if (err instanceof InvalidSettingError) throw new InvalidArgumentError(err.message)
      throw err
    }
  }
}

function integer(text: string, what: string, min: number): number {
  const n = Number(text)
  if (text.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new InvalidSettingError(`${what} must be a whole number of at least ${min}, got "${text}"`)
  return n
}

function mergeConfig(a: PressureConfig, b: PressureConfig): PressureConfig {
  const { up, down, ...both } = b
  return { ...a, ...both, up: { ...a.up, ...up }, down: { ...a.down, ...down } }
}

/** "up.latency=300ms" or "loss=1%" -> a PressureConfig. */
function parseSetFlag(text: string): PressureConfig {
  const m = /^(?:(up|down)\.)?([a-z-]+)=(.+)$/.exec(text.trim())
  if (m === null) throw new InvalidSettingError(`--set takes [up.|down.]KEY=VALUE, got "${text}"`)
  return parseSetArgs([...(m[1] === undefined ? [] : [m[1]]), m[2]!, m[3]!])
}

const HELP_AFTER = `
Settings apply to both directions ("up" is client -> target, "down" is target -> client);
--set up.KEY=VALUE or down.KEY=VALUE sets one direction. Units: 250ms, 1.5s; 1mbit, 500kbit,
125kB (per second); 10% or 0.1; sizes 1460, 64KiB. Latency is one way; jitter is the standard
deviation of a normal distribution. Loss is what TCP shows an application: a lost segment (and
everything behind it) waits for a retransmission timeout of at least 200ms, doubling while the
retransmission is lost again. Bytes are never dropped, reordered or altered unless you reset.

Profiles:
${Object.entries(PROFILES).map(([n, p]) => `  ${n.padEnd(10)} ${p.description}`).join('\n')}

Live control: type a command on stdin, or POST it to the --control endpoint
(curl -d 'partition' http://HOST:PORT/; GET /stats, /connections, /settings for JSON).
${COMMAND_HELP}

SIGINT or SIGTERM (or "quit") stops the proxy: exit 0. Exit 1: it could not listen; exit 2: usage.`

export function pressureCommand(init: PressureCommandInit = {}): Command {
  const cmd = new PressureCommand('pressure')
    .usage('--listen HOST:PORT --target HOST:PORT [--profile NAME] [--latency MS] [--jitter MS] [--loss P] [--bandwidth RATE] [--set DIR.KEY=VALUE] [--control HOST:PORT] [--json]')
    .description('a TCP pressure proxy in the foreground: latency, jitter, loss, bandwidth, stalls and partitions between a client and its target')
    .requiredOption('--listen <HOST:PORT>', 'where clients connect (port 0: a free port, printed when ready)', parser((t) => parseAddress(t, '--listen', true)))
    .requiredOption('--target <HOST:PORT>', 'where connections are forwarded', parser((t) => parseAddress(t, '--target')))
    .option('--profile <NAME>', `start from a named profile (${profileNames().join(', ')})`, parser((t) => { profile(t); return t }))
  for (const [key, k] of Object.entries(SETTING_KEYS)) {
    cmd.addOption(new Option(`--${key} <${k.hint}>`, `${key} (both directions)`).argParser(parser((t) => parseSetting(key, t))))
  }
  cmd
    .option('--set <[DIR.]KEY=VALUE>', 'one setting, for one direction with up. or down. (repeatable)',
      parser<PressureConfig>((t, prev) => mergeConfig(prev ?? {}, parseSetFlag(t))))
    .option('--control <HOST:PORT>', 'serve the HTTP control endpoint there (port 0: a free port)', parser((t) => parseAddress(t, '--control', true)))
    .option('--stats <MS>', 'print a stats line this often when something changed; 0 for never', parser((t) => parseDuration(t, '--stats')), 1000)
    .option('--json', 'print ready, stats and replies as JSON lines')
    .option('--seed <N>', 'seed the random draws (delays, losses, slices) for a reproducible run', parser((t) => integer(t, '--seed', 0)))
    .option('--max-connections <N>', 'refuse connections beyond this many open ones (default 1024)', parser((t) => integer(t, '--max-connections', 1)))
    .option('--connect-timeout <MS>', 'reset a client whose target does not answer within this (default 10s)', parser((t) => parseDuration(t, '--connect-timeout')))
    .addHelpText('after', HELP_AFTER)
    .action(async (opts: Record<string, unknown>) => runPressure(cmd, opts, init))
  return cmd
}

async function runPressure(cmd: Command, opts: Record<string, unknown>, init: PressureCommandInit): Promise<void> {
  const stdout = init.stdout ?? process.stdout
  const json = opts['json'] === true
  const print = (line: string, data: Record<string, unknown>): void => {
    stdout.write(json ? toJson(data) + '\n' : line + '\n')
  }
  let config: PressureConfig = {}
  for (const key of Object.keys(SETTING_KEYS)) {
    const fragment = opts[key.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())] as LinkConfig | undefined
    if (fragment !== undefined) config = { ...config, ...fragment }
  }
  if (opts['set'] !== undefined) config = mergeConfig(config, opts['set'] as PressureConfig)
  const listen = opts['listen'] as { host: string; port: number }
  let proxy: PressureProxy
  try {
    proxy = await PressureProxy.start({
      listen,
      target: opts['target'] as { host: string; port: number },
      profile: opts['profile'] as string | undefined,
      config,
      random: opts['seed'] === undefined ? undefined : seededRandom(opts['seed'] as number),
      maxConnections: opts['maxConnections'] as number | undefined,
      connectTimeoutMs: opts['connectTimeout'] as number | undefined,
    })
  } catch (err) {
    if (err instanceof InvalidSettingError) cmd.error(`error: ${err.message}`)
    throw new Error(`cannot listen on ${formatAddress(listen)}: ${(err as Error).message}`)
  }

  let stop: () => void = () => {}
  const stopped = new Promise<void>((resolve) => { stop = resolve })
  const reply = (source: string, line: string, r: CommandResult): void => {
    print(r.lines.map((l) => (source === 'stdin' ? l : `${source}: ${line.trim()} -> ${l}`)).join('\n'), { event: 'reply', source, command: line.trim(), ok: r.ok, lines: r.lines, data: r.data })
    if (r.quit === true) stop()
  }
  let control: ControlEndpoint | undefined
  try {
    if (opts['control'] !== undefined) {
      control = await startControlEndpoint({ proxy, listen: opts['control'] as { host: string; port: number }, onCommand: (l, r) => reply('control', l, r) })
    }
  } catch (err) {
    await proxy.close()
    throw new Error(`cannot serve the control endpoint on ${formatAddress(opts['control'] as { host: string; port: number })}: ${(err as Error).message}`)
  }

  const controlAddr = control === undefined ? null : formatAddress(control.address)
  print(
    `pressure: listening on ${formatAddress(proxy.address)}, forwarding to ${formatAddress(proxy.target)}` +
      `${controlAddr === null ? '' : `, control on http://${controlAddr}/`}\npressure: ${settingsLine(proxy.resolvedSettings)}`,
    { event: 'ready', listen: formatAddress(proxy.address), port: proxy.port, target: formatAddress(proxy.target), control: controlAddr, settings: proxy.resolvedSettings },
  )
  init.onReady?.(proxy)

  const lines = createInterface({ input: init.stdin ?? process.stdin, terminal: false })
  lines.on('line', (line) => { if (line.trim() !== '') reply('stdin', line, runControlCommand(proxy, line)) })

  let last = ''
  const interval = opts['stats'] as number
  const timer = interval > 0 ? setInterval(() => {
    const s = proxy.stats()
    const line = statsLine(s)
    if (line !== last) print(`stats: ${line}`, { event: 'stats', ...s })
    last = line
  }, interval) : undefined

  const onSignal = (): void => stop()
  if (init.signal !== undefined) {
    if (init.signal.aborted) stop()
    init.signal.addEventListener('abort', onSignal, { once: true })
  } else {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  await stopped
  init.signal?.removeEventListener('abort', onSignal)
  process.off('SIGINT', onSignal)
  process.off('SIGTERM', onSignal)
  clearInterval(timer)
  lines.close()
  await control?.close()
  await proxy.close()
}
