// The dashboard's data, in memory: three relays on a MemoryNetwork, the first serving the
// dashboard (a real HTTP listener on loopback): the network it sees (every relay, asked over
// the overlay), rates that follow what clients do, failures, the event stream; and the pure
// functions behind them.
import { afterEach, describe, expect, it } from 'vitest'
import { HeraldError } from '@herald/client'
import { STATUS_CLUSTER } from '@herald/wire'
import type { NetworkSnapshot, RelayStatus } from '../src/index.js'
import { quantileMs, ratesOf, type Sample } from '../src/dashboard/snapshot.js'
import { fullMesh, memoryRelays, until, type MemoryRelays } from './support/memory-relays.js'

let m: MemoryRelays | undefined
afterEach(async () => {
  await m?.stop()
  m = undefined
})

async function network(x: MemoryRelays): Promise<NetworkSnapshot> {
  const res = await fetch(`${x.relays[0]!.uiUrl!}/api/network`)
  expect(res.status).toBe(200)
  return (await res.json()) as NetworkSnapshot
}

/** Three relays in a full mesh, the first serving the dashboard. */
async function three(): Promise<MemoryRelays> {
  const x = m = await memoryRelays(3, { init: (i) => (i === 0 ? { ui: '127.0.0.1:0' } : {}) })
  await x.runUntil(() => fullMesh(x.relays), 'a full mesh')
  return x
}

describe('dashboard: the network seen from one relay', () => {
  it('shows every relay (asked over the overlay), their links, clusters and topics', async () => {
    const x = await three()
    await x.member(1, { cluster: 'db', handler: { handleRequest: (r) => r } })
    await (await x.client(2)).subscribe('news', { handleEvent: () => {} })
    await x.runUntil(() => x.relays[0]!.status().peers.some((p) => p.topics.includes('news')), 'relay 1 to see the topic')
    await x.run(2000)
    const s = await network(x)
    expect(s.relays.map((r) => r.id).sort()).toEqual(x.relays.map((r) => r.nodeId).sort())
    expect(s.relays.every((r) => r.reachable)).toBe(true)
    expect(s.relays.find((r) => r.self)?.id).toBe(x.relays[0]!.nodeId)
    // Each relay reports its own links: the three pairs, from both ends.
    const pairs = new Set(s.links.map((l) => [l.from, l.to].sort().join(' ')))
    expect(pairs.size).toBe(3)
    expect(s.relays.find((r) => r.id === x.relays[1]!.nodeId)?.clusters).toEqual([{ name: 'db', members: 1, outstanding: 0, queued: 0 }])
    expect(s.relays.find((r) => r.id === x.relays[2]!.nodeId)?.topics).toEqual([{ name: 'news', subscribers: 1, dropped: 0 }])
  })

  it('rates follow the clients: events published on relay 1 and delivered on relay 3, requests and their p99; failures are listed', async () => {
    const x = await three()
    await x.member(1, { cluster: 'db', handler: { handleRequest: (r) => r } })
    let got = 0
    await (await x.client(2)).subscribe('news', { handleEvent: () => { got++ } })
    const peers = (): RelayStatus['peers'] => x.relays[0]!.status().peers
    await x.runUntil(() => peers().some((p) => p.topics.includes('news')) && peers().some((p) => (p.clusters['db']?.members ?? 0) > 0), 'relay 1 to see both')
    await x.run(2000)
    const idle = await network(x)
    expect(idle.totals.delivered).toBe(0)
    // All of it between two ticks: the clock stands still while the clients work.
    const c = await x.client(0)
    for (let i = 0; i < 500; i++) await c.publish('news', 'e')
    const replies = Array.from({ length: 50 }, () => c.request('db', 'q', { timeoutMs: 5000 }))
    const refused = c.request('nobody', 'q', { timeoutMs: 5000 }).catch((e: unknown) => e)
    await until(() => got === 500, 'the events to arrive')
    await Promise.all(replies)
    expect(((await refused) as HeraldError).code).toBe('NO_MEMBERS')
    await x.run(1000)
    const busy = await network(x)
    const r1 = busy.relays.find((r) => r.id === x.relays[0]!.nodeId)!
    const r3 = busy.relays.find((r) => r.id === x.relays[2]!.nodeId)!
    // Over the one tick in which it all happened: 500 events and 51 requests (50 answered, 1 refused).
    expect(r1.rates.published).toBe(500)
    expect(r3.rates.delivered).toBe(500)
    expect(r1.rates.requests).toBe(51)
    expect(busy.totals.delivered).toBe(500)
    expect(busy.totals.p99Ms).not.toBeNull()
    expect(busy.failures.some((f) => f.relay === x.relays[0]!.nodeId && f.what.includes('1 request with no member'))).toBe(true)
    await x.run(1000)
    expect((await network(x)).totals.delivered).toBe(0) // a rate, not a total: back to 0 once publishing stopped
  })

  it('the event stream sends the history, then a snapshot each tick; with nobody watching, no other relay is asked', async () => {
    const x = await three()
    const fromRelay2 = (): number => x.relays[0]!.status().links.find((l) => l.nodeId === x.relays[1]!.nodeId)!.bytesIn
    const asleep = fromRelay2()
    await x.run(3000)
    const asleepBytes = fromRelay2() - asleep
    const ac = new AbortController()
    const res = await fetch(`${x.relays[0]!.uiUrl!}/events`, { signal: ac.signal })
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const reader = res.body!.getReader()
    let text = ''
    const events = (): string[] => [...text.matchAll(/^event: (\w+)$/gm)].map((e) => e[1]!)
    const read = async (): Promise<void> => { text += new TextDecoder().decode((await reader.read()).value) }
    while (events().length < 2) await read()
    expect(events().slice(0, 2)).toEqual(['history', 'snapshot'])
    expect(JSON.parse(/^event: history\ndata: (.*)$/m.exec(text)![1]!)).toEqual([])
    for (let n = 3; n <= 5; n++) {
      await x.run(1000)
      while (events().length < n) await read()
    }
    expect(events()).toEqual(['history', 'snapshot', 'snapshot', 'snapshot', 'snapshot'])
    const last = JSON.parse([...text.matchAll(/^data: (.*)$/gm)].at(-1)![1]!) as NetworkSnapshot
    expect(last.relays).toHaveLength(3)
    // Awake, relay 2's status comes over the link every second; asleep, only the control plane's pings did.
    const awake = fromRelay2()
    await x.run(3000)
    const awakeBytes = fromRelay2() - awake
    expect(awakeBytes).toBeGreaterThan(3 * 1000)
    expect(asleepBytes).toBeLessThan(awakeBytes / 3)
    ac.abort()
  })
})

describe('dashboard: "$herald.status" for another relay', () => {
  it('a status request naming a relay is answered by that relay, through this one; an unknown one is refused', async () => {
    const x = await three()
    const c = await x.client(0)
    const asked = c.request(STATUS_CLUSTER, x.relays[2]!.nodeId, { timeoutMs: 5000 })
    await x.run(100)
    expect((JSON.parse(Buffer.from(await asked).toString()) as RelayStatus).nodeId).toBe(x.relays[2]!.nodeId)
    const err = await c.request(STATUS_CLUSTER, 'not-a-relay', { timeoutMs: 5000 }).catch((e: unknown) => e)
    expect([(err as HeraldError).code, (err as Error).message]).toEqual(['NO_MEMBERS', 'relay not-a-relay is not in this relay\'s directory'])
  })
})

describe('dashboard: rates and quantiles', () => {
  const BOUNDS = [1, 2, 5, 10]
  it('quantileMs interpolates within the bucket holding the rank; null without data; the last bound for the overflow bucket', () => {
    expect(quantileMs(BOUNDS, [0, 0, 0, 0, 0], 0.99)).toBeNull()
    expect(quantileMs(BOUNDS, [100, 0, 0, 0, 0], 0.5)).toBe(0.5)
    expect(quantileMs(BOUNDS, [50, 50, 0, 0, 0], 0.99)).toBeCloseTo(1.98)
    expect(quantileMs(BOUNDS, [0, 0, 0, 0, 10], 0.99)).toBe(10)
  })

  it('ratesOf: counter deltas over the time between two samples', () => {
    const status = (delivered: number, counts: number[]): RelayStatus => ({
      counters: { delivered, publishedByClients: delivered * 2, requestsFromClients: delivered / 10 },
      latency: { boundsMs: BOUNDS, counts, count: counts.reduce((a, b) => a + b, 0), sumMs: 0 },
    }) as unknown as RelayStatus
    const a: Sample = { t: 1000, status: status(100, [0, 0, 0, 0, 0]), reachable: true }
    const b: Sample = { t: 3000, status: status(300, [0, 0, 4, 0, 0]), reachable: true }
    expect(ratesOf(b, a)).toEqual({ delivered: 100, published: 200, requests: 10, p99Ms: quantileMs(BOUNDS, [0, 0, 4, 0, 0], 0.99) })
    expect(ratesOf(b, undefined)).toEqual({ delivered: 0, published: 0, requests: 0, p99Ms: null })
  })
})
