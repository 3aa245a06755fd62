// `herald status` as people read it, from the status of real relays in memory: links with
// their round trip and backlog, and the relays this one suspects.
import { afterEach, describe, expect, it } from 'vitest'
import { formatStatus } from '../src/status-format.js'
import { fullMesh, memoryRelays, type MemoryRelays } from '../../node/test/support/memory-relays.js'

let m: MemoryRelays | undefined
afterEach(async () => {
  await m?.stop()
  m = undefined
})

describe('herald status: the text', () => {
  it('lists each link with its round trip and backlog, and the relays this one suspects while it suspects them', async () => {
    const x = m = await memoryRelays(3)
    await x.runUntil(() => fullMesh(x.relays), 'a full mesh')
    await x.run(3000) // pings: round trips measured
    const [a, b, c] = x.relays as [typeof x.relays[0], typeof x.relays[0], typeof x.relays[0]]
    const calm = formatStatus(a.status())
    for (const other of [b, c]) {
      expect(calm).toMatch(new RegExp(`^  ${other.nodeId}  rtt \\d+\\.\\d ms  backlog \\d+ B  sent [\\d.]+ (B|KiB|MiB)  received [\\d.]+ (B|KiB|MiB)  dropped 0  neighbor \\(phi \\d+\\.\\d\\d\\)$`, 'm'))
    }
    expect(calm).toMatch(/^suspects {2}\(none\)$/m)

    // Relay 3 stops reaching relay 1 (its links stay up): relay 1 suspects it, its probes through relay 2 keep it alive.
    x.net.stall(c.nodeId, a.nodeId, true)
    await x.runUntil(() => a.status().peers.some((p) => p.nodeId === c.nodeId && p.suspected), 'relay 1 to suspect relay 3', 10_000)
    const worried = formatStatus(a.status())
    expect(worried).toMatch(new RegExp(`^suspects  ${c.nodeId}$`, 'm'))
    expect(worried).toMatch(new RegExp(`^  ${c.nodeId} SUSPECTED: `, 'm'))
    expect(worried).toMatch(/^ {2}\d\d:\d\d:\d\d warn peer\.suspected: suspecting relay /m)
    x.net.stall(c.nodeId, a.nodeId, false)
  })
})
