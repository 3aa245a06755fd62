/**
 * The relay's structured log: every event worth knowing is one call with a stable `event`
 * name and stable field names (docs/operations.md, "Logs", lists them). The interface is the
 * shape of a pino logger, so `herald relay` passes one in; a test passes `lineLogger(fn)` or
 * `silentLogger`. Nothing on the hot path logs: these are link, peer and client events.
 */

export type LogLevel = 'error' | 'warn' | 'info' | 'debug'

/** `event` names what happened (e.g. "link.down"); the other fields are its facts. */
export interface LogFields {
  event: string
  [field: string]: unknown
}

export type LogFn = (fields: LogFields, msg: string) => void

/** What the relay logs through (a pino Logger fits it). */
export interface Logger {
  error: LogFn
  warn: LogFn
  info: LogFn
  debug: LogFn
}

const LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug']

export function isLogLevel(s: string): s is LogLevel {
  return (LEVELS as readonly string[]).includes(s)
}

const noop: LogFn = () => {}

/** Logs nothing. */
export const silentLogger: Logger = { error: noop, warn: noop, info: noop, debug: noop }

/** `msg (key=value ...)`: the fields after the message, for plain-text lines. */
export function formatLine(fields: LogFields, msg: string): string {
  const parts: string[] = []
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue
    parts.push(`${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
  }
  return parts.length > 0 ? `${msg} (${parts.join(' ')})` : msg
}

/**
 * A logger writing one plain line per event at `level` and above to `write` (the adapter for
 * tests and for a library user without pino).
 */
export function lineLogger(write: (line: string) => void, level: LogLevel = 'debug'): Logger {
  const max = LEVELS.indexOf(level)
  const at = (l: LogLevel): LogFn => (LEVELS.indexOf(l) > max ? noop : (fields, msg) => write(formatLine(fields, msg)))
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}

/** The default of a relay given no logger: info and above on stderr, "herald: " first. */
export function stderrLogger(): Logger {
  return lineLogger((line) => { process.stderr.write(`herald: ${line}\n`) }, 'info')
}

/** One event kept for status pages (warnings and errors only). */
export interface RecentEvent {
  /** Unix time, ms. */
  t: number
  level: 'warn' | 'error'
  event: string
  msg: string
  /** The peer or client it concerns, when there is one. */
  subject?: string
}

/**
 * Passes everything to `inner` and keeps the last `max` warnings and errors, so `herald
 * status` and the dashboard can show what went wrong lately without reading log files.
 */
export class RecentEvents implements Logger {
  private readonly ring: RecentEvent[] = []
  private next = 0
  readonly error: LogFn
  readonly warn: LogFn
  readonly info: LogFn
  readonly debug: LogFn

  constructor(inner: Logger, private readonly now: () => number, private readonly max = 50) {
    this.error = (f, m) => { this.keep('error', f, m); inner.error(f, m) }
    this.warn = (f, m) => { this.keep('warn', f, m); inner.warn(f, m) }
    this.info = (f, m) => inner.info(f, m)
    this.debug = (f, m) => inner.debug(f, m)
  }

  /** Oldest first. */
  list(): RecentEvent[] {
    return [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)]
  }

  private keep(level: 'warn' | 'error', fields: LogFields, msg: string): void {
    const subject = typeof fields['peer'] === 'string' ? fields['peer'] : typeof fields['client'] === 'number' ? `client ${fields['client']}` : undefined
    const e: RecentEvent = { t: this.now(), level, event: fields.event, msg, ...(subject !== undefined ? { subject } : {}) }
    if (this.ring.length < this.max) this.ring.push(e)
    else {
      this.ring[this.next] = e
      this.next = (this.next + 1) % this.max
    }
  }
}
