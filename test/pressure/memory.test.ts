/**
 * A relay's memory stays bounded when the link to another relay is full: with relay C frozen,
 * a client of relay A tries to publish 256 MiB of events whose only subscriber is on C. A's
 * link to C fills (past its 2 MiB high-water mark A stops reading the publisher; past 16 MiB
 * it would drop), the sockets on the way fill (~25 MB), and then the publisher waits: A does
 * not buffer the rest. Its growth is what passed through and is not yet collected, plus the
 * backlog: well under the 256 MiB an unbounded relay would keep.
 */
import { afterAll, expect, it } from 'vitest'
import { cleanup, startNetwork } from '@herald/testkit'
import { rssOf } from '../harness.js'

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const MESSAGE = 64 * 1024
const MESSAGES = 4096
const GROWTH_BOUND_MB = 96

afterAll(cleanup)

it(`a relay holds at most its bounds for a frozen peer: the publisher waits, memory grows < ${GROWTH_BOUND_MB} MB`, async () => {
  const net = await startNetwork({ relays: 3 })
  const [a, , c] = net.relays as [typeof net.relays[0], typeof net.relays[0], typeof net.relays[0]]
  await (await c.connect()).subscribe('bulk', { handleEvent: () => {} })
  for (;;) {
    const pc = (await a.status()).peers.find((p) => p.nodeId === c.peerId)
    if (pc?.topics.includes('bulk') === true && pc.connected) break
    await sleep(50)
  }
  const idle = rssOf(a.pid)
  const client = await a.connect()
  c.freeze()
  let published = 0
  let peak = idle
  try {
    const payload = new Uint8Array(MESSAGE)
    // Settled from the start: closing the client below rejects the publish it is waiting on.
    const flood = (async () => { for (let i = 0; i < MESSAGES; i++) { await client.publish('bulk', payload); published++ } })().catch(() => {})
    // Until the publisher has been held for a second (or, unbounded, has sent everything).
    let last = -1
    let still = 0
    while (published < MESSAGES && still < 10) {
      await sleep(100)
      peak = Math.max(peak, rssOf(a.pid))
      still = published === last ? still + 1 : 0
      last = published
    }
    const held = published
    const s = await a.status()
    const link = s.links.find((l) => l.nodeId === c.peerId)
    console.log(JSON.stringify({ memory: { publishedMB: (held * MESSAGE) / 2 ** 20, rssIdleMB: Math.round(idle / 2 ** 20), rssPeakMB: Math.round(peak / 2 ** 20), linkBacklog: link?.backlog, dropped: s.counters['dropped'] } }))
    // The publisher was held: not all of it left (kernel buffers on the way hold ~25 MB).
    expect(held * MESSAGE).toBeLessThan(MESSAGES * MESSAGE)
    expect((peak - idle) / 2 ** 20).toBeLessThan(GROWTH_BOUND_MB)
    // What is left of the flood is not needed: closing the connection ends it.
    await client.close()
    await flood
  } finally {
    c.thaw()
  }
}, 60_000)
