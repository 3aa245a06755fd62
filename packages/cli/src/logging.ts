import { createRequire } from 'node:module'
import { pino } from 'pino'
import type { Logger, LogLevel } from '@herald/node'

export type LogFormat = 'json' | 'pretty' | 'auto'

export const LOG_FORMATS: readonly LogFormat[] = ['json', 'pretty', 'auto']

/**
 * The relay's log on stderr (stdout carries only the --json ready line, a machine contract):
 * JSON lines, one per event, with `time` (ISO 8601), `level` (a name), `event` and the event's
 * fields; or, on a terminal, readable lines. `auto` picks by whether stderr is a TTY.
 * Writes are synchronous: the relay logs events, never messages, so this costs nothing that
 * matters, and nothing is lost when the process exits.
 */
export function createLogger(opts: { level: LogLevel; format: LogFormat }): Logger {
  const pretty = opts.format === 'pretty' || (opts.format === 'auto' && process.stderr.isTTY === true)
  if (pretty) {
    // Loaded only for a terminal: a relay under a supervisor (JSON lines) never pays for it.
    const { build: pinoPretty } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty')
    const stream = pinoPretty({
      destination: 2, sync: true, colorize: process.stderr.isTTY === true,
      translateTime: 'HH:MM:ss.l', hideObject: true,
    })
    return pino({ level: opts.level, base: undefined }, stream)
  }
  return pino({
    level: opts.level,
    base: { pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  }, pino.destination({ fd: 2, sync: true }))
}
