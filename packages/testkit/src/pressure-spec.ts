/**
 * How a test names the pressure it wants: a profile name ('lossy-wan'), settings
 * ({ latencyMs: 250, jitterMs: 50 }), or both plus a seed ({ profile, config, seed }).
 */
import { applyConfig, profile, seededRandom, settingsOf, type PressureConfig, type PressureProxy, type PressureProxyInit } from '@herald/pressure'

export type PressureSpec = string | PressureConfig | { profile?: string; config?: PressureConfig; seed?: number }

interface Parts {
  profile?: string
  config: PressureConfig
  seed?: number
}

function partsOf(spec: PressureSpec): Parts {
  if (typeof spec === 'string') return { profile: spec, config: {} }
  if ('profile' in spec || 'config' in spec || 'seed' in spec) {
    const s = spec as { profile?: string; config?: PressureConfig; seed?: number }
    return { ...(s.profile !== undefined ? { profile: s.profile } : {}), config: s.config ?? {}, ...(s.seed !== undefined ? { seed: s.seed } : {}) }
  }
  return { config: spec as PressureConfig }
}

/** The proxy init fields for a spec (a bad profile or setting throws here, before anything starts). */
export function proxyInitOf(spec: PressureSpec | undefined): Pick<PressureProxyInit, 'profile' | 'config' | 'random'> {
  if (spec === undefined) return {}
  const p = partsOf(spec)
  // Validate now: a typo should fail the test at the call, with the pressure kit's message.
  applyConfig(settingsOf(p.profile === undefined ? {} : profile(p.profile)), p.config)
  return { ...(p.profile !== undefined ? { profile: p.profile } : {}), config: p.config, ...(p.seed !== undefined ? { random: seededRandom(p.seed) } : {}) }
}

/** Replaces a live proxy's settings with the spec's (no spec: no pressure; a seed is not used: a proxy's random source is set when it is made). */
export function applySpec(proxy: PressureProxy, spec: PressureSpec | undefined): void {
  const init = proxyInitOf(spec)
  if (init.profile !== undefined) proxy.useProfile(init.profile)
  proxy.configure(init.config ?? {}, { reset: init.profile === undefined })
}
