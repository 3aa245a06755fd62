/**
 * Named profiles: the networks people meet, as one-way figures per direction (`up` is
 * client -> target). Latency is one way, so the round trip is about twice it. Each is a
 * plain PressureConfig; docs/pressure.md says where the figures come from.
 */
import { InvalidSettingError } from './errors.js'
import type { PressureConfig } from './settings.js'

const mbit = (n: number): number => (n * 1e6) / 8
const kbit = (n: number): number => (n * 1e3) / 8

export interface Profile {
  description: string
  config: PressureConfig
}

export const PROFILES: Readonly<Record<string, Profile>> = Object.freeze({
  none: {
    description: 'no pressure: a plain TCP relay (counters only)',
    config: {},
  },
  lan: {
    description: 'a switched office LAN: 0.5 ms ± 0.1 ms one way, 1 Gbit/s',
    config: { latencyMs: 0.5, jitterMs: 0.1, bandwidth: mbit(1000) },
  },
  wan: {
    description: 'a healthy cross-country WAN: 40 ms ± 5 ms one way, 0.1% loss, 50 Mbit/s',
    config: { latencyMs: 40, jitterMs: 5, correlation: 0.25, loss: 0.001, bandwidth: mbit(50) },
  },
  'lossy-wan': {
    description: 'a bad long-haul path: 250 ms ± 50 ms one way, 10% loss, 1 Mbit/s',
    config: { latencyMs: 250, jitterMs: 50, loss: 0.1, bandwidth: mbit(1) },
  },
  satellite: {
    description: 'geostationary satellite: 300 ms ± 20 ms one way, 1% loss, 2 Mbit/s up, 10 Mbit/s down',
    config: { latencyMs: 300, jitterMs: 20, correlation: 0.5, loss: 0.01, up: { bandwidth: mbit(2) }, down: { bandwidth: mbit(10) } },
  },
  mobile: {
    description: 'a 3G phone on the move: 100 ms ± 40 ms one way (correlated), 2% loss, 750 kbit/s up, 1.5 Mbit/s down',
    config: { latencyMs: 100, jitterMs: 40, correlation: 0.7, loss: 0.02, up: { bandwidth: kbit(750) }, down: { bandwidth: mbit(1.5) } },
  },
  edge: {
    description: 'a 2G/EDGE phone: 200 ms ± 50 ms one way, 1% loss, 100 kbit/s up, 200 kbit/s down',
    config: { latencyMs: 200, jitterMs: 50, correlation: 0.5, loss: 0.01, up: { bandwidth: kbit(100) }, down: { bandwidth: kbit(200) } },
  },
})

export function profileNames(): string[] {
  return Object.keys(PROFILES)
}

/** The profile's config; throws InvalidSettingError naming the known profiles. */
export function profile(name: string): PressureConfig {
  const p = Object.hasOwn(PROFILES, name) ? PROFILES[name] : undefined
  if (p === undefined) throw new InvalidSettingError(`unknown profile "${name}" (known: ${profileNames().join(', ')})`)
  return p.config
}
