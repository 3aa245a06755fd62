import { describe, expect, it } from 'vitest'
import { InvalidSettingError, createPressureProxy } from '@herald/pressure'
import { applySpec, proxyInitOf } from '../src/pressure-spec.js'

describe('pressure specs', () => {
  it('takes a profile name, settings, or both with a seed', () => {
    expect(proxyInitOf(undefined)).toEqual({})
    expect(proxyInitOf('lossy-wan')).toEqual({ profile: 'lossy-wan', config: {} })
    expect(proxyInitOf({ latencyMs: 250, jitterMs: 50 })).toEqual({ config: { latencyMs: 250, jitterMs: 50 } })
    const both = proxyInitOf({ profile: 'wan', config: { loss: 0.05 }, seed: 3 })
    expect(both.profile).toBe('wan')
    expect(both.config).toEqual({ loss: 0.05 })
    expect(typeof both.random).toBe('function')
  })

  it('rejects an unknown profile or an impossible setting at once, with the pressure kit\'s message', () => {
    expect(() => proxyInitOf('lossy-lan')).toThrow(/unknown profile "lossy-lan"/)
    expect(() => proxyInitOf({ loss: 1.5 })).toThrow(InvalidSettingError)
    expect(() => proxyInitOf({ profile: 'wan', config: { latencyMs: -5 } })).toThrow(InvalidSettingError)
  })

  it('applies a spec to a live proxy, replacing what was there', async () => {
    const proxy = await createPressureProxy({ target: { host: '127.0.0.1', port: 1 }, config: { latencyMs: 100, loss: 0.2 } })
    try {
      applySpec(proxy, { jitterMs: 5 })
      expect(proxy.settings.up).toMatchObject({ latencyMs: 0, jitterMs: 5, loss: 0 })
      applySpec(proxy, { profile: 'lossy-wan', config: { loss: 0.01 } })
      expect(proxy.settings.down).toMatchObject({ latencyMs: 250, jitterMs: 50, loss: 0.01 })
      applySpec(proxy, undefined)
      expect(proxy.settings.up).toMatchObject({ latencyMs: 0, loss: 0, bandwidth: Infinity })
    } finally {
      await proxy.close()
    }
  })
})
