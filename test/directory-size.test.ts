import { afterAll, expect, it } from 'vitest'
import { connect } from '@herald/client'
import { killAll, startRelay, until } from './harness.js'

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
  let seen = 0
  await until(async () => {
    const v = JSON.parse(Buffer.from(await viewer.request('$herald.status', '')).toString()) as View
    seen = v.peers.find((p) => p.nodeId === a.peerId)?.topics.length ?? 0
    return seen === topics.length
  }, 15_000, 'relay B to see all of relay A\'s topics')
  expect(seen).toBe(topics.length)
  await viewer.close()
  await c.close()
})
