/**
 * The quotes service tested under the `lossy-wan` profile (250 ± 50 ms one way, 10% loss,
 * 1 Mbit/s) with @herald/testkit: two real relays with that pressure between them, the member
 * on one, clients on the other — and, for the client, the same profile again between it and
 * its relay. Written with node:test (the testkit needs no particular test runner):
 *
 *   node --import tsx --test examples/pressure/quotes.test.ts
 */
import { after, before, describe, it } from 'node:test'
import * as assert from 'node:assert/strict'
import { TimeoutError, type Connection } from '@herald/client'
import { cleanup, startNetwork, type TestNetwork } from '@herald/testkit'
import { quote, serveQuotes, type Quote, type QuotesMember } from './quotes.js'

describe('quotes under lossy-wan', () => {
  let net: TestNetwork
  let member: QuotesMember
  let client: Connection

  before(async () => {
    // Pressure from the start: the relays must find each other through it too.
    net = await startNetwork({ relays: 2, pressure: { profile: 'lossy-wan', seed: 7 }, viewsTimeoutMs: 60_000 })
    const [home, away] = net.relays
    member = await serveQuotes({ port: away!.port, prices: { ACME: 101.5, INITECH: 12.25 } })
    client = await home!.connect({ pressure: 'lossy-wan' })
    // The relays learn of the member through the same pressure: until then, ask again.
    await quote(client, 'ACME', { deadlineMs: 60_000 })
  })
  after(cleanup)

  it('answers within a deadline that allows for the path (and its retransmissions)', async () => {
    const q = await quote(client, 'INITECH', { deadlineMs: 30_000 })
    assert.deepEqual({ symbol: q.symbol, price: q.price }, { symbol: 'INITECH', price: 12.25 })
  })

  it('fails with a TimeoutError when the deadline cannot fit one round trip', async () => {
    // Two relay hops of 250 ms each way, plus the client's own path: 100 ms fits nothing.
    await assert.rejects(quote(client, 'ACME', { deadlineMs: 100 }), TimeoutError)
  })

  it('delivers every tick in order to a subscriber across the relays', async () => {
    const got: Quote[] = []
    const sub = await client.subscribe('ticks.ACME', { handleEvent: (ev) => { got.push(JSON.parse(new TextDecoder().decode(ev)) as Quote) } })
    // The subscription has to reach the member's relay, through the pressure, before ticks go to it.
    const away = net.relays[1]!
    const home = net.relays[0]!
    for (let i = 0; ; i++) {
      const s = await away.status()
      if (s.peers.some((p) => p.nodeId === home.peerId && p.topics.includes('ticks.ACME'))) break
      if (i > 600) throw new Error('the subscription never reached the member\'s relay')
      await new Promise((r) => setTimeout(r, 100))
    }
    for (let i = 1; i <= 20; i++) await member.set('ACME', 100 + i)
    for (let i = 0; got.length < 20; i++) {
      if (i > 600) break
      await new Promise((r) => setTimeout(r, 100))
    }
    await sub.unsubscribe()
    assert.deepEqual(got.map((q) => q.price), Array.from({ length: 20 }, (_, i) => 101 + i))
  })

  it('comes back after the two relays are cut apart for 3 s', async () => {
    net.partition(net.relays[1]!)
    await assert.rejects(quote(client, 'ACME', { deadlineMs: 1_000 }), TimeoutError)
    await new Promise((r) => setTimeout(r, 2_000))
    net.heal()
    // quote() keeps asking through the heal; the deadline allows for the path again.
    const q = await quote(client, 'ACME', { deadlineMs: 30_000 })
    assert.equal(q.symbol, 'ACME')
  })
})
