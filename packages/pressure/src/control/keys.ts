/**
 * The settings as people name them (`latency 250ms`, `loss 10%`), shared by the command
 * line flags, `--set`, stdin commands and the control endpoint: one table, one parser each.
 */
import { InvalidSettingError } from '../errors.js'
import type { LinkConfig, LinkSettings } from '../settings.js'
import { parseDuration, parseProbability, parseRate, parseSize } from '../units.js'

interface Key {
  field: keyof LinkSettings
  /** What the value looks like, for help texts. */
  hint: string
  parse: (text: string) => number | undefined
}

const auto = (parse: (t: string, what: string) => number, what: string) => (t: string): number | undefined =>
  t.trim().toLowerCase() === 'auto' ? undefined : parse(t, what)

export const SETTING_KEYS: Readonly<Record<string, Key>> = Object.freeze({
  latency: { field: 'latencyMs', hint: 'MS', parse: (t) => parseDuration(t, 'latency') },
  jitter: { field: 'jitterMs', hint: 'MS', parse: (t) => parseDuration(t, 'jitter') },
  correlation: { field: 'correlation', hint: 'P', parse: (t) => parseProbability(t, 'correlation') },
  loss: { field: 'loss', hint: 'P', parse: (t) => parseProbability(t, 'loss') },
  bandwidth: { field: 'bandwidth', hint: 'RATE', parse: (t) => parseRate(t, 'bandwidth') },
  burst: { field: 'burstBytes', hint: 'BYTES', parse: auto(parseSize, 'burst') },
  segment: {
    field: 'segmentBytes', hint: 'BYTES', parse: (t) => {
      const n = parseSize(t, 'segment')
      if (n < 1) throw new InvalidSettingError(`segment must be at least 1 byte, got "${t}"`)
      return n
    },
  },
  slice: { field: 'sliceBytes', hint: 'BYTES', parse: (t) => (/^off$/i.test(t.trim()) ? 0 : parseSize(t, 'slice')) },
  'slice-gap': { field: 'sliceGapMs', hint: 'MS', parse: (t) => parseDuration(t, 'slice-gap') },
  rto: {
    field: 'rtoMs', hint: 'MS', parse: auto((t) => {
      const ms = parseDuration(t, 'rto')
      if (ms < 200) throw new InvalidSettingError(`rto must be at least 200ms (TCP's minimum), got "${t}"`)
      return ms
    }, 'rto'),
  },
  buffer: { field: 'bufferBytes', hint: 'BYTES', parse: auto(parseSize, 'buffer') },
})

export function settingKeyNames(): string[] {
  return Object.keys(SETTING_KEYS)
}

/** `{ field: value }` for one key and its text; throws InvalidSettingError. */
export function parseSetting(key: string, text: string): LinkConfig {
  const k = Object.hasOwn(SETTING_KEYS, key) ? SETTING_KEYS[key] : undefined
  if (k === undefined) throw new InvalidSettingError(`unknown setting "${key}" (known: ${settingKeyNames().join(', ')})`)
  return { [k.field]: k.parse(text) }
}
