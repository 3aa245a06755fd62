/**
 * What pressure a link applies, per direction: `up` is client -> target, `down` is
 * target -> client. A `PressureConfig` sets fields for both directions at its top level and
 * per direction under `up`/`down` (those win); `undefined` for an "auto" field restores its
 * derived value. Validation rejects every impossible value with one clear line.
 */
import { InvalidSettingError } from './errors.js'
import {
  BURST_MS, DEFAULT_BUFFER_BYTES, DEFAULT_SEGMENT_BYTES, MAX_BYTES, MAX_DERIVED_BUFFER_BYTES,
  MAX_DURATION_MS, MIN_BUFFER_BYTES, MIN_RTO_MS,
} from './constants.js'

export interface LinkSettings {
  /** Mean one-way delay, ms. */
  latencyMs: number
  /** Standard deviation of the delay, ms (normal distribution, cut at 0). */
  jitterMs: number
  /** 0 to below 1: how closely each segment's delay follows the previous one's. */
  correlation: number
  /** 0 to below 1: probability that a segment is lost and waits for a retransmission timeout. */
  loss: number
  /** Bytes per second (a token bucket); Infinity for no limit. */
  bandwidth: number
  /** Token bucket depth in bytes; undefined: 10 ms of the rate, at least one segment. */
  burstBytes: number | undefined
  /** The segment (MSS) that loss, jitter and bandwidth apply to. */
  segmentBytes: number
  /** Slicing: deliver in pieces of 1..sliceBytes bytes, one write each; 0 is off. */
  sliceBytes: number
  /** Slicing: at least this long between two pieces, ms. */
  sliceGapMs: number
  /** Retransmission timeout, ms (>= 200); undefined: derived from both directions as Linux does. */
  rtoMs: number | undefined
  /** Most bytes this direction holds before it stops reading; undefined: derived from the bandwidth-delay product. */
  bufferBytes: number | undefined
}

export type LinkConfig = Partial<LinkSettings>

export interface PressureConfig extends LinkConfig {
  up?: LinkConfig
  down?: LinkConfig
}

export interface PressureSettings {
  up: LinkSettings
  down: LinkSettings
}

/** Settings with every derived value filled in, as the proxy applies them. */
export interface ResolvedLink extends LinkSettings {
  burstBytes: number
  rtoMs: number
  bufferBytes: number
}

export interface ResolvedSettings {
  up: ResolvedLink
  down: ResolvedLink
}

export type Direction = 'up' | 'down'
export const DIRECTIONS: readonly Direction[] = ['up', 'down']

export const NO_PRESSURE: Readonly<LinkSettings> = Object.freeze({
  latencyMs: 0,
  jitterMs: 0,
  correlation: 0,
  loss: 0,
  bandwidth: Infinity,
  burstBytes: undefined,
  segmentBytes: DEFAULT_SEGMENT_BYTES,
  sliceBytes: 0,
  sliceGapMs: 0,
  rtoMs: undefined,
  bufferBytes: undefined,
})

export const LINK_KEYS = Object.keys(NO_PRESSURE) as Array<keyof LinkSettings>

type Check = (v: number) => string | undefined
const range = (min: number, max: number, unit = ''): Check => (v) =>
  Number.isFinite(v) && v >= min && v <= max ? undefined : `must be between ${min}${unit} and ${max}${unit}`
const below1: Check = (v) => (Number.isFinite(v) && v >= 0 && v < 1 ? undefined : 'must be at least 0 and below 1')
const wholeBytes = (min: number): Check => (v) =>
  Number.isInteger(v) && v >= min && v <= MAX_BYTES ? undefined : `must be a whole number of bytes, at least ${min}`

const CHECKS: Record<keyof LinkSettings, { check: Check; auto?: true }> = {
  latencyMs: { check: range(0, MAX_DURATION_MS, ' ms') },
  jitterMs: { check: range(0, MAX_DURATION_MS, ' ms') },
  correlation: { check: below1 },
  loss: { check: below1 },
  bandwidth: { check: (v) => (v === Infinity || (Number.isFinite(v) && v > 0 && v <= MAX_BYTES) ? undefined : 'must be greater than 0 bytes/s (Infinity for no limit)') },
  burstBytes: { check: wholeBytes(1), auto: true },
  segmentBytes: { check: wholeBytes(1) },
  sliceBytes: { check: wholeBytes(0) },
  sliceGapMs: { check: range(0, MAX_DURATION_MS, ' ms') },
  rtoMs: { check: range(MIN_RTO_MS, MAX_DURATION_MS, ' ms'), auto: true },
  bufferBytes: { check: wholeBytes(1), auto: true },
}

function validateLink(config: unknown, where: string): LinkConfig {
  if (typeof config !== 'object' || config === null) throw new InvalidSettingError(`${where.slice(0, -1)} must be an object of settings`)
  for (const [key, value] of Object.entries(config)) {
    const spec = Object.hasOwn(CHECKS, key) ? CHECKS[key as keyof LinkSettings] : undefined
    if (spec === undefined) throw new InvalidSettingError(`unknown setting "${where}${key}" (known: ${LINK_KEYS.join(', ')})`)
    if (value === undefined && spec.auto) continue
    const problem = typeof value === 'number' ? spec.check(value) : 'must be a number'
    if (problem !== undefined) throw new InvalidSettingError(`${where}${key} ${problem}, got ${String(value)}`)
  }
  return config as LinkConfig
}

/** `base` with `config` applied on top; throws InvalidSettingError and changes nothing on a bad value. */
export function applyConfig(base: PressureSettings, config: PressureConfig): PressureSettings {
  if (typeof config !== 'object' || config === null) throw new InvalidSettingError('a pressure config must be an object')
  const { up, down, ...both } = config
  validateLink(both, '')
  if (up !== undefined) validateLink(up, 'up.')
  if (down !== undefined) validateLink(down, 'down.')
  return {
    up: { ...base.up, ...both, ...up },
    down: { ...base.down, ...both, ...down },
  }
}

export function settingsOf(config: PressureConfig = {}): PressureSettings {
  return applyConfig({ up: { ...NO_PRESSURE }, down: { ...NO_PRESSURE } }, config)
}

/**
 * Linux's retransmission timeout: the smoothed round trip plus four deviations, where the
 * deviation term is never below 200 ms (so even a zero-delay link waits 200 ms).
 */
export function derivedRtoMs(s: PressureSettings): number {
  const rtt = s.up.latencyMs + s.down.latencyMs
  const deviation = Math.sqrt(s.up.jitterMs ** 2 + s.down.jitterMs ** 2)
  return rtt + Math.max(4 * deviation, MIN_RTO_MS)
}

function resolveLink(link: LinkSettings, rtoMs: number): ResolvedLink {
  const rto = link.rtoMs ?? rtoMs
  const perMs = link.bandwidth / 1000
  const burst = link.burstBytes ?? Math.max(link.segmentBytes, link.sliceBytes, perMs === Infinity ? 0 : Math.ceil(perMs * BURST_MS))
  let buffer = link.bufferBytes
  if (buffer === undefined) {
    if (perMs === Infinity) buffer = DEFAULT_BUFFER_BYTES
    else {
      // What the link holds in flight at full rate: the bandwidth-delay product, with a
      // retransmission's wait when segments get lost (they block everything behind them).
      const holdMs = link.latencyMs + 4 * link.jitterMs + (link.loss > 0 ? rto : 0)
      buffer = Math.min(MAX_DERIVED_BUFFER_BYTES, Math.max(MIN_BUFFER_BYTES, Math.ceil(perMs * holdMs) + burst))
    }
  }
  return { ...link, rtoMs: rto, burstBytes: burst, bufferBytes: buffer }
}

export function resolveSettings(s: PressureSettings): ResolvedSettings {
  const rto = derivedRtoMs(s)
  return { up: resolveLink(s.up, rto), down: resolveLink(s.down, rto) }
}
