import { describe, expect, it } from 'vitest'
import {
  InvalidSettingError, NO_PRESSURE, PROFILES, applyConfig, derivedRtoMs, profile, profileNames, resolveSettings, settingsOf,
} from '../src/index.js'

describe('settings', () => {
  it('start from no pressure in both directions', () => {
    const s = settingsOf()
    expect(s.up).toEqual(NO_PRESSURE)
    expect(s.down).toEqual(NO_PRESSURE)
  })

  it('apply top-level fields both ways, and up/down fields to one direction (those win)', () => {
    const s = settingsOf({ latencyMs: 10, loss: 0.01, up: { latencyMs: 30 }, down: { bandwidth: 1000 } })
    expect([s.up.latencyMs, s.up.loss, s.up.bandwidth]).toEqual([30, 0.01, Infinity])
    expect([s.down.latencyMs, s.down.loss, s.down.bandwidth]).toEqual([10, 0.01, 1000])
  })

  it('refuse impossible values with one line naming the field, and leave the base alone', () => {
    const base = settingsOf({ latencyMs: 5 })
    const cases: Array<[object, RegExp]> = [
      [{ loss: 1.5 }, /^loss must be at least 0 and below 1, got 1.5$/],
      [{ loss: 1 }, /^loss must be at least 0 and below 1/],
      [{ latencyMs: -5 }, /^latencyMs must be between 0 ms and/],
      [{ jitterMs: Number.NaN }, /^jitterMs must be between/],
      [{ bandwidth: 0 }, /^bandwidth must be greater than 0/],
      [{ rtoMs: 100 }, /^rtoMs must be between 200 ms/],
      [{ segmentBytes: 0 }, /^segmentBytes must be a whole number of bytes, at least 1/],
      [{ sliceBytes: 1.5 }, /^sliceBytes must be a whole number/],
      [{ up: { correlation: 1 } }, /^up\.correlation must be at least 0 and below 1/],
      [{ latency: 5 }, /^unknown setting "latency" \(known: latencyMs, /],
      [{ down: { loss: '10%' } }, /^down\.loss must be a number/],
    ]
    for (const [config, message] of cases) {
      expect(() => applyConfig(base, config as never), JSON.stringify(config)).toThrow(InvalidSettingError)
      expect(() => applyConfig(base, config as never), JSON.stringify(config)).toThrow(message)
    }
    expect(base.up.latencyMs).toBe(5)
  })

  it('derive the retransmission timeout as Linux does: round trip + max(4 deviations, 200 ms)', () => {
    expect(derivedRtoMs(settingsOf())).toBe(200)
    expect(derivedRtoMs(settingsOf({ latencyMs: 10 }))).toBe(220)
    // 250 ± 50 ms each way: rtt 500, deviation sqrt(2)*50 -> 4 * 70.7 = 282.8 > 200.
    expect(derivedRtoMs(settingsOf({ latencyMs: 250, jitterMs: 50 }))).toBeCloseTo(500 + 4 * Math.SQRT2 * 50, 6)
    const r = resolveSettings(settingsOf({ rtoMs: 1000 }))
    expect(r.up.rtoMs).toBe(1000)
  })

  it('derive a buffer that holds the bandwidth-delay product, bounded, unless set', () => {
    const open = resolveSettings(settingsOf()).up
    expect(open.bufferBytes).toBe(4 * 1024 * 1024)
    const wan = resolveSettings(settingsOf(profile('lossy-wan'))).up
    const bdp = (wan.bandwidth / 1000) * wan.latencyMs
    expect(wan.bufferBytes).toBeGreaterThan(bdp)
    expect(wan.bufferBytes).toBeLessThanOrEqual(64 * 1024 * 1024)
    expect(resolveSettings(settingsOf({ bandwidth: 100, latencyMs: 1 })).up.bufferBytes).toBe(64 * 1024)
    expect(resolveSettings(settingsOf({ bandwidth: 1e9, latencyMs: 60_000 })).up.bufferBytes).toBe(64 * 1024 * 1024)
    expect(resolveSettings(settingsOf({ bufferBytes: 1000 })).up.bufferBytes).toBe(1000)
    expect(resolveSettings(settingsOf({ bandwidth: 125_000 })).up.burstBytes).toBe(1460)
    expect(resolveSettings(settingsOf({ bandwidth: 125_000_000 })).up.burstBytes).toBe(1_250_000)
  })
})

describe('profiles', () => {
  it('lossy-wan is 250 ± 50 ms one way, 10% loss and 1 Mbit/s, both ways', () => {
    const s = settingsOf(profile('lossy-wan'))
    for (const d of [s.up, s.down]) {
      expect([d.latencyMs, d.jitterMs, d.loss, d.bandwidth]).toEqual([250, 50, 0.1, 125_000])
    }
  })

  it('every profile is valid and described', () => {
    expect(profileNames()).toEqual(expect.arrayContaining(['none', 'lan', 'wan', 'lossy-wan', 'satellite', 'mobile', 'edge']))
    for (const name of profileNames()) {
      expect(() => resolveSettings(settingsOf(profile(name))), name).not.toThrow()
      expect(PROFILES[name]!.description.length).toBeGreaterThan(10)
    }
  })

  it('an unknown profile names the known ones', () => {
    expect(() => profile('nope')).toThrow(/^unknown profile "nope" \(known: none, lan, wan, lossy-wan/)
    expect(() => profile('toString')).toThrow(InvalidSettingError)
  })
})
