import { InvalidSettingError } from '../errors.js'
import type { Address } from '../connection.js'

/**
 * "host:port", "[::1]:port", ":port" or "port" (host 127.0.0.1: the kit binds loopback
 * unless told otherwise). Port 0 only where `allowZero` (a listener picking a free port).
 */
export function parseAddress(text: string, what: string, allowZero = false): Address {
  const t = text.trim()
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d+)$/.exec(t) ?? /^()()(\d+)$/.exec(t)
  if (m === null) throw new InvalidSettingError(`${what} must be HOST:PORT, got "${text}"`)
  const host = [m[1], m[2]].find((h) => h !== undefined && h !== '') ?? '127.0.0.1'
  const port = Number(m[3])
  if (!Number.isInteger(port) || port > 65535 || (port === 0 && !allowZero)) {
    throw new InvalidSettingError(`${what}: port must be ${allowZero ? '0' : '1'} to 65535, got "${m[3]}"`)
  }
  return { host, port }
}

export function formatAddress(a: Address): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`
}
