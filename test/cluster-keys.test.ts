import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, register, generateClusterKey, KeyError, type Service } from '@herald/client'
import { killAll, startRelay, type RelayProc } from './harness.js'

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8')

describe('cluster keys (end-to-end sealing)', () => {
  let relay: RelayProc
  const oldKey = generateClusterKey()
  const newKey = generateClusterKey()
  const services: Service[] = []

  beforeAll(async () => {
    relay = await startRelay()
  })
  afterAll(async () => {
    for (const s of services) await s.close()
    await killAll()
  })

  it('seals requests, replies, broadcasts, tunnels and events; the member never sees what it cannot open', async () => {
    const seen: string[] = []
    const broadcasts: string[] = []
    const svc = await register({
      port: relay.port, cluster: 'vault', key: oldKey,
      handler: {
        handleRequest: (r) => { seen.push(text(r)); return `ok:${text(r)}` },
        handleBroadcast: (m) => { broadcasts.push(text(m)) },
        async handleTunnel(t) { for await (const m of t) await t.send(m) },
      },
    })
    services.push(svc)
    const keyed = await connect({ port: relay.port, clusterKeys: { vault: oldKey }, topicKeys: { secrets: oldKey } })
    expect(text(await keyed.request('vault', 'alpha'))).toBe('ok:alpha')

    // A client without the key, and one with the wrong key: KeyError, and the handler never runs.
    const plain = await connect({ port: relay.port })
    await expect(plain.request('vault', 'beta')).rejects.toBeInstanceOf(KeyError)
    const wrong = await connect({ port: relay.port, clusterKeys: { vault: generateClusterKey() } })
    await expect(wrong.request('vault', 'gamma')).rejects.toBeInstanceOf(KeyError)
    expect(seen).toEqual(['alpha'])
    expect(svc.stats.rejected).toBe(2)

    await keyed.broadcast('vault', 'b1')
    await plain.broadcast('vault', 'b2') // not sealed: rejected and counted
    expect(text(await keyed.request('vault', 'after'))).toBe('ok:after') // orders after the broadcasts
    expect(broadcasts).toEqual(['b1'])
    expect(svc.stats.rejected).toBe(3)

    const tun = await keyed.tunnel('vault')
    await tun.send('through the tunnel')
    expect(text(await tun.receive({ timeoutMs: 5000 }))).toBe('through the tunnel')
    await tun.close()

    // Topic keys: a keyed subscriber opens; a keyless one receives ciphertext only.
    const sub = await keyed.subscribe('secrets')
    const other = await plain.subscribe('secrets')
    await keyed.publish('secrets', 'classified')
    const ev = await sub.next({ timeoutMs: 5000 })
    expect(text(ev.value as Uint8Array)).toBe('classified')
    const raw = await other.next({ timeoutMs: 5000 })
    expect(text(raw.value as Uint8Array)).not.toContain('classified')
    await keyed.close()
    await plain.close()
    await wrong.close()
  })

  it('rotation: a member with [new, old] serves clients on the old key, then on the new one', async () => {
    const svc = await register({
      port: relay.port, cluster: 'rotating', key: [newKey, oldKey],
      handler: { handleRequest: (r) => `v:${text(r)}` },
    })
    services.push(svc)
    const oldClient = await connect({ port: relay.port, clusterKeys: { rotating: oldKey } })
    const newClient = await connect({ port: relay.port, clusterKeys: { rotating: newKey } })
    expect(text(await oldClient.request('rotating', 'a'))).toBe('v:a')
    expect(text(await newClient.request('rotating', 'b'))).toBe('v:b')
    // A member that dropped the old key refuses old clients.
    const newOnly = await register({ port: relay.port, cluster: 'rotated', key: newKey, handler: { handleRequest: () => 'x' } })
    services.push(newOnly)
    const oldOnRotated = await connect({ port: relay.port, clusterKeys: { rotated: oldKey } })
    await expect(oldOnRotated.request('rotated', 'c')).rejects.toBeInstanceOf(KeyError)
    await oldClient.close()
    await newClient.close()
    await oldOnRotated.close()
  })

  it('rejects malformed keys with a clear error', async () => {
    await expect(connect({ port: relay.port, clusterKeys: { x: 'c2hvcnQ=' } })).rejects.toThrow(/32 bytes/)
  })
})
