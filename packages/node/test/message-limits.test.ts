// Two relays in memory with different maxMessageBytes (1,000 and the default 16 MiB), the real
// SDK as clients: a relay never hands a client a payload larger than its WELCOME advertised,
// whoever sent it (protocol.md, Limits). Requests and replies fail with tooLarge, events and
// broadcasts are dropped and counted (DROPPED to the subscriber), tunnels close with tooLarge;
// the connections carry on.
import { afterEach, describe, expect, it } from 'vitest'
import { HeraldError, type Tunnel } from '@herald/client'
import { memoryRelays, type MemoryRelays } from './support/memory-relays.js'

const SMALL = 1000
const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (e instanceof HeraldError ? e.code : String(e)))

let x: MemoryRelays | undefined
afterEach(async () => {
  await x?.stop()
  x = undefined
})

/** r1 advertises 1,000 bytes to its clients, r2 the default; linked. */
async function twoLimits(): Promise<MemoryRelays> {
  x = await memoryRelays(2, { init: (i) => (i === 0 ? { maxMessageBytes: SMALL } : {}) })
  return x
}

/** Runs the clock until relay `i` lists `cluster` or `topic` on the other relay. */
async function route(m: MemoryRelays, i: number, what: { cluster?: string; topic?: string }): Promise<void> {
  await m.runUntil(() => m.relays[i]!.status().peers.some((p) => p.connected
    && (what.cluster === undefined || (p.clusters[what.cluster]?.members ?? 0) > 0)
    && (what.topic === undefined || p.topics.includes(what.topic))), `relay ${i + 1} to see ${JSON.stringify(what)}`)
}

describe('relays with different maxMessageBytes', () => {
  it('a client of the small relay is handed nothing larger: its request, event, broadcast and tunnel traffic from the large one', async () => {
    const m = await twoLimits()
    const broadcasts: string[] = []
    const tunnelEnds: string[] = []
    await m.member(0, {
      cluster: 'db',
      handler: {
        handleRequest: (r) => r,
        handleBroadcast: (b) => { broadcasts.push(b.length > 20 ? `${b.length} bytes` : text(b)) },
        async handleTunnel(t: Tunnel) {
          try {
            for await (const msg of t) await t.send(msg)
            tunnelEnds.push('done')
          } catch (err) {
            tunnelEnds.push(err instanceof HeraldError ? err.code : String(err))
          }
        },
      },
    })
    const subscriber = await m.client(0)
    const events: string[] = []
    const sub = await subscriber.subscribe('t', { handleEvent: (e) => { events.push(e.length > 20 ? `${e.length} bytes` : text(e)) } })
    await route(m, 1, { cluster: 'db', topic: 't' })
    const far = await m.client(1)

    expect(await codeOf(far.request('db', new Uint8Array(SMALL + 1), { timeoutMs: 60_000 }))).toBe('TOO_LARGE')
    expect((await far.request('db', new Uint8Array(SMALL), { timeoutMs: 60_000 })).length).toBe(SMALL)

    await far.publish('t', new Uint8Array(5000))
    await far.publish('t', 'small')
    await m.runUntil(() => events.length >= 1 && sub.stats().dropped >= 1, 'the small event and the report of the drop')
    expect(events).toEqual(['small'])
    expect(sub.stats().dropped).toBe(1)
    expect(m.relays[0]!.status().topics).toEqual([{ name: 't', subscribers: 1, dropped: 1 }])

    await far.broadcast('db', new Uint8Array(5000))
    await far.broadcast('db', 'small-b')
    await m.runUntil(() => broadcasts.length >= 1, 'the small broadcast')
    expect(broadcasts).toEqual(['small-b'])

    const t = await far.tunnel('db', { timeoutMs: 60_000 })
    await t.send('fits')
    expect(text(await t.receive({ timeoutMs: 60_000 }))).toBe('fits')
    await t.send(new Uint8Array(5000))
    expect(await codeOf(t.receive({ timeoutMs: 60_000 }))).toBe('TOO_LARGE')
    await m.runUntil(() => tunnelEnds.length > 0, "the member's end of the tunnel to close")
    expect(tunnelEnds).toEqual(['TOO_LARGE'])

    expect(text(await far.request('db', 'still ok', { timeoutMs: 60_000 }))).toBe('still ok')
  })

  it('a reply from a member on the large relay, too large for the caller on the small one, fails with tooLarge', async () => {
    const m = await twoLimits()
    await m.member(1, { cluster: 'big', handler: { handleRequest: (r) => new Uint8Array(Number(text(r))) } })
    await route(m, 0, { cluster: 'big' })
    const caller = await m.client(0)
    expect(await codeOf(caller.request('big', String(SMALL + 1), { timeoutMs: 60_000 }))).toBe('TOO_LARGE')
    expect((await caller.request('big', String(SMALL), { timeoutMs: 60_000 })).length).toBe(SMALL)
  })
})
