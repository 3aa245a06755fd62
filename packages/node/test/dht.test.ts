import { afterAll, expect, it } from 'vitest'
import { register, type Service } from '@herald/client'
import { libp2pOverlay, startRelay, type Relay } from '../src/index.js'

const relays: Relay[] = []
const services: Service[] = []
afterAll(async () => {
  for (const s of services) await s.close()
  for (const r of relays) await r.stop()
})

// The private kad-dht (on with `dht: true`, --dht) works on loopback (server mode, private
// addresses kept): a relay that serves a cluster is found as its provider by a relay it is not
// directly asked about.
it('the DHT finds the relays serving a cluster', async () => {
  const log = (): void => {}
  const a = await startRelay({ port: 0, log, dht: true })
  relays.push(a)
  const overlay = await libp2pOverlay({ log, dht: true })
  const b = await startRelay({ port: 0, log, dht: true, bootstrap: [a.addrs()[0]!] }, { overlay })
  relays.push(b)
  const c = await startRelay({ port: 0, log, dht: true, bootstrap: [a.addrs()[0]!] })
  relays.push(c)
  services.push(await register({ port: c.port, cluster: 'dht-cluster', handler: { handleRequest: () => 'x' } }))
  let found: string[] = []
  const deadline = Date.now() + 15_000
  while (!found.includes(c.nodeId) && Date.now() < deadline) {
    found = (await overlay.findProviders!('dht-cluster', 1000)).map((p) => p.id)
  }
  expect(found).toContain(c.nodeId)
  expect(await overlay.findProviders!('no-such-cluster', 500)).toEqual([])
}, 30_000)
