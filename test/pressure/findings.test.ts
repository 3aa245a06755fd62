/**
 * Findings of the pressure tier: what the relay does that it should not, each as the smallest
 * test that shows it. Each is `it.fails` while the relay behaves so — it turns red the day it
 * is fixed, and then becomes a plain `it`.
 *
 * 1. Requests wait behind a congested link they do not use. While relay C is frozen (and not
 *    yet suspected), a client of relay A publishing to a topic whose only subscriber is on C
 *    fills A's link to C. Past the link's high-water mark (2 MiB) A stops reading every client
 *    that publishes anything bound for C (clients/session.ts, pauseForLinks: the whole socket
 *    is paused) — so their requests to a healthy member on relay B wait as well, and time
 *    out. A client that publishes nothing is served at once. The pause lasts until the link
 *    drains or C is declared dead (seconds; after a thaw, until the backlog has flushed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Connection } from '@herald/client'
import { cleanup, startNetwork, type TestNetwork, type TestRelay } from '@herald/testkit'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

describe('findings: a full link to a frozen relay holds up requests to a healthy one', () => {
  let net: TestNetwork
  let a: TestRelay
  let b: TestRelay
  let c: TestRelay
  let flooder: Connection

  beforeAll(async () => {
    net = await startNetwork({ relays: 3 })
    ;[a, b, c] = net.relays as [TestRelay, TestRelay, TestRelay]
    await b.register({ cluster: 'svc', handler: { handleRequest: (r) => r } })
    const sub = await c.connect()
    for (const topic of ['bulk', 'news']) await sub.subscribe(topic, { handleEvent: () => {} })
    for (;;) {
      const s = await a.status()
      const [pb, pc] = [b, c].map((r) => s.peers.find((p) => p.nodeId === r.peerId))
      // B's member and C's subscriptions are known, and A has its links to both up.
      if ((pb?.clusters['svc']?.members ?? 0) > 0 && pc?.topics.includes('news') === true && pb?.connected === true && pc.connected) break
      await sleep(50)
    }
    flooder = await a.connect()
  }, 60_000)
  afterAll(cleanup)

  /** Freezes C and fills A's link to it (past its high-water mark), then runs `check`. */
  async function withFullLink(check: () => Promise<void>): Promise<void> {
    c.freeze()
    try {
      const payload = new Uint8Array(64 * 1024)
      // Up to 256 MiB: more than fills the path to C (the link, then ~25 MB of socket buffers).
      void (async () => { for (let i = 0; i < 4096; i++) await flooder.publish('bulk', payload) })().catch(() => {})
      for (;;) {
        const link = (await a.status()).links.find((l) => l.nodeId === c.peerId)
        if ((link?.backlog ?? 0) > 2 * 1024 * 1024) break
        await sleep(20)
      }
      await check()
    } finally {
      c.thaw()
    }
  }

  const requests = (conn: Connection): Promise<string[]> => Promise.all(Array.from({ length: 3 }, (_, i) =>
    sleep(i * 200).then(() => conn.request('svc', 'ping', { timeoutMs: 1000 }).then(() => 'ok', (e: Error) => e.name))))

  it.fails('the publishing client itself can still make requests to relay B', async () => {
    await withFullLink(async () => expect(await requests(flooder)).toEqual(['ok', 'ok', 'ok']))
  }, 30_000)

  it.fails('another client that publishes one small event bound for C can still make requests to relay B', async () => {
    const other = await a.connect()
    const quiet = await a.connect()
    await withFullLink(async () => {
      await other.publish('news', 'one small event')
      const [fromOther, fromQuiet] = await Promise.all([requests(other), requests(quiet)])
      // A client that published nothing is served at once: the member and B are fine.
      expect(fromQuiet).toEqual(['ok', 'ok', 'ok'])
      expect(fromOther).toEqual(['ok', 'ok', 'ok'])
    })
  }, 30_000)
})
