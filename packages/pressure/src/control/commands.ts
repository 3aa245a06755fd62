/**
 * The live control language, one command per line, for stdin and the control endpoint alike.
 * Pure apart from the proxy it drives: it returns what to print, it never prints.
 */
import { InvalidSettingError } from '../errors.js'
import type { PressureProxy, Scope } from '../proxy.js'
import { profileNames } from '../profiles.js'
import type { Direction, LinkConfig, PressureConfig } from '../settings.js'
import { parseDuration } from '../units.js'
import { formatAddress, parseAddress } from './address.js'
import { connectionLine, settingsLine, statsLine } from './format.js'
import { parseSetting, settingKeyNames } from './keys.js'

export interface CommandResult {
  ok: boolean
  /** What to print, one entry per line (an error is one line starting "error: "). */
  lines: string[]
  /** The same as data, for JSON output. */
  data?: unknown
  /** The user asked to stop. */
  quit?: boolean
}

export const COMMAND_HELP = `commands (one per line; SCOPE is all, existing, new or a connection id, default all):
  set [up|down] KEY VALUE [KEY VALUE ...]   change settings live; KEY is one of
      ${settingKeyNames().join(', ')}
      (e.g. "set latency 250ms jitter 50ms loss 10% bandwidth 1mbit", "set down bandwidth off")
  profile NAME                  replace all settings with a profile (${profileNames().join(', ')})
  partition [up|down|both] [SCOPE]   hold every byte (blackhole, no reset) until heal
  heal [SCOPE]                  end partitions and stalls (and half-open/refusing for new connections)
  stall DURATION [up|down|both] [SCOPE]   freeze delivery for DURATION, then deliver what waited
  half-open [SCOPE]             accept bytes and never deliver them (nor FIN, nor reset)
  reset [SCOPE]                 reset connections (ECONNRESET on both sides), default existing;
                                "new" or "all" also refuses new connections until heal
  target HOST:PORT              send new connections there
  list                          open connections with their counters
  stats                         the counters, now
  show                          the settings in force
  help                          this text
  quit                          stop the proxy`

const isDirection = (w: string | undefined): w is Direction | 'both' => w === 'up' || w === 'down' || w === 'both'

function parseScope(word: string | undefined, fallback: Scope = 'all'): Scope {
  if (word === undefined) return fallback
  if (word === 'all' || word === 'existing' || word === 'new') return word
  const id = Number(word.replace(/^#/, ''))
  if (!Number.isInteger(id) || id < 1) throw new InvalidSettingError(`scope must be all, existing, new or a connection id, got "${word}"`)
  return id
}

function noMore(words: string[], usage: string): void {
  if (words.length > 0) throw new InvalidSettingError(`unexpected "${words.join(' ')}"; usage: ${usage}`)
}

/** `set` arguments: an optional direction, then KEY VALUE pairs. */
export function parseSetArgs(words: string[]): PressureConfig {
  const dir = words[0] === 'up' || words[0] === 'down' ? words.shift() as Direction : undefined
  if (words.length === 0 || words.length % 2 !== 0) throw new InvalidSettingError('usage: set [up|down] KEY VALUE [KEY VALUE ...]')
  let link: LinkConfig = {}
  for (let i = 0; i < words.length; i += 2) link = { ...link, ...parseSetting(words[i]!, words[i + 1]!) }
  return dir === undefined ? link : { [dir]: link }
}

function done(lines: string[], data?: unknown): CommandResult {
  return { ok: true, lines, data }
}

export function runControlCommand(proxy: PressureProxy, line: string): CommandResult {
  const words = line.trim().split(/\s+/).filter((w) => w !== '')
  const cmd = words.shift()
  try {
    switch (cmd) {
      case undefined:
        return done([])
      case 'set':
        proxy.configure(parseSetArgs(words))
        return done([settingsLine(proxy.resolvedSettings)], proxy.resolvedSettings)
      case 'profile': {
        const name = words.shift()
        if (name === undefined) throw new InvalidSettingError(`usage: profile NAME (${profileNames().join(', ')})`)
        noMore(words, 'profile NAME')
        proxy.useProfile(name)
        return done([`profile ${name}: ${settingsLine(proxy.resolvedSettings)}`], proxy.resolvedSettings)
      }
      case 'partition': {
        const direction = isDirection(words[0]) ? words.shift() as Direction | 'both' : 'both'
        const scope = parseScope(words.shift())
        noMore(words, 'partition [up|down|both] [SCOPE]')
        proxy.partition({ direction, scope })
        return done([`partitioned ${direction === 'both' ? 'both ways' : direction} (${scope})`])
      }
      case 'heal': {
        const scope = parseScope(words.shift())
        noMore(words, 'heal [SCOPE]')
        proxy.heal({ scope })
        return done([`healed (${scope})`])
      }
      case 'stall': {
        const text = words.shift()
        if (text === undefined) throw new InvalidSettingError('usage: stall DURATION [up|down|both] [SCOPE]')
        const ms = parseDuration(text, 'stall')
        const direction = isDirection(words[0]) ? words.shift() as Direction | 'both' : 'both'
        const scope = parseScope(words.shift())
        noMore(words, 'stall DURATION [up|down|both] [SCOPE]')
        proxy.stall(ms, { direction, scope })
        return done([`stalled ${direction === 'both' ? 'both ways' : direction} for ${ms}ms (${scope})`])
      }
      case 'half-open': {
        const scope = parseScope(words.shift())
        noMore(words, 'half-open [SCOPE]')
        proxy.halfOpen({ scope })
        return done([`half-open (${scope})`])
      }
      case 'reset': {
        const scope = parseScope(words.shift(), 'existing')
        noMore(words, 'reset [SCOPE]')
        const n = proxy.reset({ scope })
        return done([`reset ${n} connection${n === 1 ? '' : 's'}${scope === 'all' || scope === 'new' ? '; refusing new connections until heal' : ''}`], { reset: n })
      }
      case 'target': {
        const text = words.shift()
        if (text === undefined) throw new InvalidSettingError('usage: target HOST:PORT')
        noMore(words, 'target HOST:PORT')
        proxy.retarget(parseAddress(text, 'target'))
        return done([`new connections go to ${formatAddress(proxy.target)}`])
      }
      case 'list': {
        const conns = proxy.connections()
        return done(conns.length === 0 ? ['no open connections'] : conns.map(connectionLine), conns)
      }
      case 'stats': {
        const s = proxy.stats()
        return done([statsLine(s)], s)
      }
      case 'show':
        return done([settingsLine(proxy.resolvedSettings)], proxy.resolvedSettings)
      case 'help':
        return done(COMMAND_HELP.split('\n'))
      case 'quit':
      case 'exit':
        return { ok: true, lines: ['stopping'], quit: true }
      default:
        throw new InvalidSettingError(`unknown command "${cmd}" (try "help")`)
    }
  } catch (err) {
    if (!(err instanceof InvalidSettingError)) throw err
    return { ok: false, lines: [`error: ${err.message}`] }
  }
}
