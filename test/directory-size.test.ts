import { afterAll, expect, it } from 'vitest'
import { connect } from '@herald/client'
import { killAll, startRelay } from './harness.js'

afterAll(killAll)

interface View { peers: Array<{ nodeId: string; topics: string[] }> }

// A directory entry larger than the client message limit must still cross between relays
// (peer links have their own frame limit, and gossip is cut into bounded frames).
it('a large directory entry crosses between relays with a small --max-message', async () => {
  const a = await startRelay(['--max-message', '2048'])
  const b = await startRelay(['--max-message', '2048', '--bootstrap', a.addrs[0]!])
  const c = await connect({ port: a.port })
  const topics = Array.from({ length: 300 }, (_, i) => `topic-${i}-${'x'.repeat(40)}`)
  for (const t of topics) await c.subscribe(t)
  const viewer = await connect({ port: b.port })
  const seen = async (): Promise<number> => {
    const v = JSON.parse(Buffer.from(await viewer.request('$herald.status', '')).toString()) as View
    return v.peers.find((p) => p.nodeId === a.peerId)?.topics.length ?? 0
  }
  await expect.poll(seen, { timeout: 15_000, interval: 50, message: 'relay B to see all of relay A\'s topics' }).toBe(topics.length)
  await viewer.close()
  await c.close()
})
