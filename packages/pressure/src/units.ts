/**
 * Units as people type them on a command line: durations (250ms, 1.5s, 2m; a bare number is
 * milliseconds), rates (1mbit, 500kbit, 125kB, 2MiB; bits are SI, "/s" optional), sizes
 * (1460, 64KiB, 16kB) and probabilities (10%, 0.1). Every parser throws InvalidSettingError
 * with a one-line message naming the setting, never returns NaN.
 */
import { InvalidSettingError } from './errors.js'
import { MAX_BYTES, MAX_DURATION_MS } from './constants.js'

const NUMBER = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([A-Za-z%/]*)$/

function split(text: string, what: string, example: string): [number, string] {
  const m = NUMBER.exec(text.trim())
  if (m === null) throw new InvalidSettingError(`${what} must be ${example}, got "${text}"`)
  return [Number(m[1]), m[2]!]
}

function nonNegative(n: number, what: string, text: string): void {
  if (n < 0) throw new InvalidSettingError(`${what} must not be negative, got "${text}"`)
}

const DURATION_UNITS: Record<string, number> = { '': 1, ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, us: 0.001, µs: 0.001 }

/** Milliseconds. */
export function parseDuration(text: string, what = 'duration'): number {
  const [n, unit] = split(text, what, 'a duration like 250ms or 1.5s')
  const scale = DURATION_UNITS[unit.toLowerCase()]
  if (scale === undefined) throw new InvalidSettingError(`${what}: unknown unit "${unit}" in "${text}" (use ms, s or m)`)
  nonNegative(n, what, text)
  const ms = n * scale
  if (ms > MAX_DURATION_MS) throw new InvalidSettingError(`${what} must be at most 24h, got "${text}"`)
  return ms
}

/** Bits per second for each unit ending in "bit", bytes for each ending in "B". */
const BIT_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }
const BYTE_UNITS: Record<string, number> = {
  '': 1, B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3,
}

/** Bytes per second; "off", "none" and "unlimited" give Infinity. */
export function parseRate(text: string, what = 'bandwidth'): number {
  if (/^(off|none|unlimited)$/i.test(text.trim())) return Infinity
  const [n, rawUnit] = split(text, what, 'a rate like 1mbit, 500kbit or 125kB')
  const unit = rawUnit.replace(/(\/s|ps)$/, '')
  if (/^[kmg]?bps$/i.test(rawUnit) || /^[kmg]b$/.test(unit)) {
    throw new InvalidSettingError(`${what}: "${rawUnit}" is ambiguous; write 1mbit for bits or 125kB for bytes per second`)
  }
  nonNegative(n, what, text)
  if (n === 0) throw new InvalidSettingError(`${what} must be greater than 0, got "${text}" (use "off" for no limit)`)
  let bytesPerSecond: number
  const bits = BIT_UNITS[unit.toLowerCase()]
  if (bits !== undefined) bytesPerSecond = (n * bits) / 8
  else if (unit === '') throw new InvalidSettingError(`${what} needs a unit, e.g. "${text}kbit" or "${text}kB" (bits or bytes per second)`)
  else {
    const bytes = BYTE_UNITS[unit]
    if (bytes === undefined) throw new InvalidSettingError(`${what}: unknown unit "${rawUnit}" in "${text}" (use bit, kbit, mbit, gbit, B, kB, MB, KiB, MiB)`)
    bytesPerSecond = n * bytes
  }
  if (bytesPerSecond > MAX_BYTES) throw new InvalidSettingError(`${what} is too large: "${text}"`)
  return bytesPerSecond
}

/** Bytes (a whole number). */
export function parseSize(text: string, what = 'size'): number {
  const [n, unit] = split(text, what, 'a size like 1460, 64KiB or 16kB')
  const scale = BYTE_UNITS[unit]
  if (scale === undefined) throw new InvalidSettingError(`${what}: unknown unit "${unit}" in "${text}" (use B, kB, MB, KiB, MiB)`)
  nonNegative(n, what, text)
  const bytes = n * scale
  if (!Number.isInteger(bytes)) throw new InvalidSettingError(`${what} must be a whole number of bytes, got "${text}"`)
  if (bytes > MAX_BYTES) throw new InvalidSettingError(`${what} is too large: "${text}"`)
  return bytes
}

/** A probability in [0, 1): "10%" or "0.1". 100% is refused: total loss is a partition. */
export function parseProbability(text: string, what = 'probability'): number {
  const [n, unit] = split(text, what, 'a probability like 10% or 0.1')
  if (unit !== '' && unit !== '%') throw new InvalidSettingError(`${what} must be a percentage or a fraction (10% or 0.1), got "${text}"`)
  const p = unit === '%' ? n / 100 : n
  if (p < 0 || p >= 1) throw new InvalidSettingError(`${what} must be at least 0 and below 100%, got "${text}"`)
  return p
}

export function formatBytes(n: number): string {
  if (n === Infinity) return 'unlimited'
  if (n < 1000) return `${Math.round(n)} B`
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`
  return `${(n / 1e9).toFixed(2)} GB`
}

/** A rate in bits per second, as tc prints it. */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond === Infinity) return 'unlimited'
  const bits = bytesPerSecond * 8
  if (bits < 1e3) return `${Math.round(bits)}bit`
  if (bits < 1e6) return `${+(bits / 1e3).toFixed(1)}kbit`
  if (bits < 1e9) return `${+(bits / 1e6).toFixed(2)}mbit`
  return `${+(bits / 1e9).toFixed(2)}gbit`
}

export function formatPercent(p: number): string {
  return `${+(p * 100).toFixed(3)}%`
}
