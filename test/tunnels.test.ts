/**
 * Tunnels end to end through real relay processes: both directions, closing from either
 * end, empty messages, typed failures, ordered byte-identical transfer, and flow control
 * (a slow reader in another process throttles the writer; the relay's memory stays flat).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connect, register, ClosedError, MemberLostError, NoMembersError, type Service, type Tunnel,
} from '@herald/client'
import { ROOT, killAll, rssOf, spawnNode, startRelay, type RelayProc } from './harness.js'
import { deferred, echoSeeded, text } from './patterns-helpers.js'

const SLOW_MEMBER = join(ROOT, 'test/fixtures/slow-tunnel-member.ts')
const KiB = 1024
const MiB = 1024 * KiB

let relay: RelayProc

beforeAll(async () => {
  relay = await startRelay()
})
afterAll(killAll)

/** A member whose tunnels echo every message back. */
function echoMember(cluster: string): Promise<Service> {
  return register({
    port: relay.port, cluster,
    handler: {
      async handleTunnel(tun) {
        for await (const m of tun) await tun.send(m)
        await tun.close()
      },
    },
  })
}

describe('tunnel', () => {
  it('carries messages both ways, empty ones included', async () => {
    const memberSaw: string[] = []
    const svc = await register({
      port: relay.port, cluster: 'tn-both',
      handler: {
        async handleTunnel(tun) {
          await tun.send('hello from the member') // the member may speak first
          for await (const m of tun) {
            memberSaw.push(text(m))
            await tun.send(`re:${text(m)}`)
            await tun.send(new Uint8Array(0))
          }
        },
      },
    })
    const conn = await connect({ port: relay.port })
    try {
      const tun = await conn.tunnel('tn-both', { timeoutMs: 5000 })
      expect(text(await tun.receive({ timeoutMs: 5000 }))).toBe('hello from the member')
      for (const msg of ['one', '', 'three']) await tun.send(msg)
      await tun.send(new Uint8Array(0))
      const got: string[] = []
      for (let i = 0; i < 8; i++) got.push(text(await tun.receive({ timeoutMs: 5000 })))
      expect(got).toEqual(['re:one', '', 're:', '', 're:three', '', 're:', ''])
      expect(memberSaw).toEqual(['one', '', 'three', ''])
      await tun.close()
    } finally {
      await conn.close()
      await svc.close()
    }
  })

  it('closed by the client: the member reads what was sent, then sees the end', async () => {
    const ended = deferred<string[]>()
    const svc = await register({
      port: relay.port, cluster: 'tn-client-closes',
      handler: {
        async handleTunnel(tun) {
          const seen: string[] = []
          for await (const m of tun) seen.push(text(m)) // ends (done) when the client closes
          ended.resolve(seen)
        },
      },
    })
    const conn = await connect({ port: relay.port })
    try {
      const tun = await conn.tunnel('tn-client-closes')
      await tun.send('a')
      await tun.send('')
      await tun.send('c')
      await tun.close()
      expect(tun.closed).toBe(true)
      expect(await ended.promise).toEqual(['a', '', 'c'])
      await expect(tun.send('late')).rejects.toBeInstanceOf(ClosedError)
      expect((await tun.next()).done).toBe(true)
    } finally {
      await conn.close()
      await svc.close()
    }
  })

  it('closed by the member: the client reads what was sent, then sees the end', async () => {
    const svc = await register({
      port: relay.port, cluster: 'tn-member-closes',
      handler: {
        async handleTunnel(tun) {
          const first = await tun.receive()
          await tun.send(`got ${text(first)}`)
          await tun.send('')
          await tun.send('bye')
          await tun.close()
        },
      },
    })
    const conn = await connect({ port: relay.port })
    try {
      const tun = await conn.tunnel('tn-member-closes')
      await tun.send('x')
      const got: string[] = []
      for await (const m of tun) got.push(text(m)) // done after the member's close
      expect(got).toEqual(['got x', '', 'bye'])
      expect(tun.closed).toBe(true)
      await expect(tun.receive()).rejects.toBeInstanceOf(ClosedError)
      await expect(tun.send('late')).rejects.toBeInstanceOf(ClosedError)
    } finally {
      await conn.close()
      await svc.close()
    }
  })

  it('fails with NoMembersError without a member, and MemberLostError when the member process dies', async () => {
    const conn = await connect({ port: relay.port })
    try {
      await expect(conn.tunnel('tn-nobody', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoMembersError)

      const member = spawnNode(SLOW_MEMBER, [String(relay.port), 'tn-dies', '1', '1'], { nodeArgs: ['--import', 'tsx'] })
      await member.waitFor(/slow-tunnel-member: ready/)
      const tun = await conn.tunnel('tn-dies', { timeoutMs: 5000 })
      await tun.send('ping')
      expect((await tun.receive({ timeoutMs: 5000 })).length).toBe(8) // its consumption report
      const pending = tun.receive().catch((e: unknown) => e)
      member.kill('SIGKILL')
      expect(await pending).toBeInstanceOf(MemberLostError)
      expect(tun.closed).toBe(true)
      await expect(tun.send('late')).rejects.toBeInstanceOf(MemberLostError)
    } finally {
      await conn.close()
    }
  })

  it('5,000 messages of 0 B..64 KiB come back from an echo member in order and byte-identical', async () => {
    const svc = await echoMember('tn-echo')
    const conn = await connect({ port: relay.port })
    try {
      const tun = await conn.tunnel('tn-echo')
      const n = 5000
      const seed = 0x5eed
      // Sizes: uniform over 0..64 KiB, plus the edges (0 and exactly 64 KiB) every so often.
      const sizeOf = (i: number, next: () => number): number => (i % 97 === 0 ? 0 : i % 89 === 0 ? 64 * KiB : next() % (64 * KiB + 1))
      const r = await echoSeeded(tun, { n, seed, sizeOf })
      expect(r.firstMismatch, r.mismatch).toBe(-1)
      expect(r.bytes).toBeGreaterThan(n * 16 * KiB) // it really moved ~160 MiB each way
      await tun.close()
    } finally {
      await conn.close()
      await svc.close()
    }
  })

  it('member-to-client is flow controlled too: the member never runs more than a window ahead of the reader', async () => {
    const total = 48
    const size = 64 * KiB
    let memberSent = 0
    const memberDone = deferred()
    const svc = await register({
      port: relay.port, cluster: 'tn-downstream',
      handler: {
        async handleTunnel(tun) {
          const chunk = new Uint8Array(size)
          for (let i = 0; i < total; i++) {
            await tun.send(chunk)
            memberSent += size
          }
          memberDone.resolve()
        },
      },
    })
    const conn = await connect({ port: relay.port })
    try {
      const tun = await conn.tunnel('tn-downstream')
      let consumed = 0
      let maxAhead = 0
      for (let i = 0; i < total; i++) {
        // Let the member run as far ahead as it is allowed before each read.
        for (let k = 0; k < 20; k++) await new Promise((r) => setImmediate(r))
        maxAhead = Math.max(maxAhead, memberSent - consumed)
        consumed += (await tun.receive({ timeoutMs: 5000 })).length
      }
      await memberDone.promise
      expect(consumed).toBe(total * size)
      // The default window is 1 MiB; a sender may overshoot by one message.
      expect(maxAhead).toBeLessThanOrEqual(1 * MiB + size)
      await tun.close()
    } finally {
      await conn.close()
      await svc.close()
    }
  })

  it('pushing into a slow reader in another process throttles the writer; relay RSS grows < 64 MiB', async () => {
    const own = await startRelay() // a fresh relay, so its memory is this test's alone
    const member = spawnNode(SLOW_MEMBER, [String(own.port), 'slow-sink', '5', '4'], { nodeArgs: ['--import', 'tsx'] })
    await member.waitFor(/slow-tunnel-member: ready/)
    const conn = await connect({ port: own.port })
    let tun: Tunnel | undefined
    try {
      tun = await conn.tunnel('slow-sink', { timeoutMs: 5000 })
      const t = tun
      let consumed = 0 // as reported by the slow reader
      const consumedReached: Array<{ bytes: number; resolve: () => void }> = []
      const reports = (async () => {
        try {
          for await (const m of t) {
            consumed = Number(new DataView(m.buffer, m.byteOffset, m.byteLength).getBigUint64(0, true))
            for (let i = consumedReached.length - 1; i >= 0; i--) {
              const w = consumedReached[i]!
              if (consumed >= w.bytes) { consumedReached.splice(i, 1); w.resolve() }
            }
          }
        } catch { /* closed at the end */ }
      })()
      const whenConsumed = (bytes: number): Promise<void> => new Promise((resolve) => {
        if (consumed >= bytes) resolve()
        else consumedReached.push({ bytes, resolve })
      })

      const chunk = new Uint8Array(64 * KiB).fill(0xab)
      let sent = 0
      // Warm-up: 2 MiB through, until the reader has 1 MiB of it; then the baseline.
      for (let i = 0; i < 32; i++) { await t.send(chunk); sent += chunk.length }
      await whenConsumed(1 * MiB)
      const baselineRelay = rssOf(own.pid)
      const baselineMember = rssOf(member.pid)

      // Push up to 200 MiB (3,200 x 64 KiB), for at most 6 s: the reader takes ~13 MiB/s.
      let maxRelay = baselineRelay
      let maxMember = baselineMember
      let maxAhead = 0
      const sample = (): void => {
        maxRelay = Math.max(maxRelay, rssOf(own.pid))
        maxMember = Math.max(maxMember, rssOf(member.pid))
        maxAhead = Math.max(maxAhead, sent - consumed)
      }
      const sampler = setInterval(sample, 50)
      const stopAt = performance.now() + 6000
      let pushed = 0
      try {
        while (pushed < 3200 && performance.now() < stopAt) {
          await t.send(chunk, { timeoutMs: 5000 })
          sent += chunk.length
          pushed++
          if (pushed % 16 === 0) sample()
        }
      } finally {
        clearInterval(sampler)
      }
      sample()

      // The writer was held to the reader's pace: never more than the 1 MiB window (plus
      // one message, plus up to 4 messages of report lag) ahead of what the reader consumed.
      expect(maxAhead).toBeLessThanOrEqual(1 * MiB + 5 * 64 * KiB + 64 * KiB)
      expect(sent).toBeGreaterThan(4 * MiB) // and the push went well past the window
      // Neither the relay nor the reader buffered the difference.
      expect(maxRelay - baselineRelay).toBeLessThan(64 * MiB)
      expect(maxMember - baselineMember).toBeLessThan(64 * MiB)

      await t.close()
      await reports
    } finally {
      await conn.close()
    }
  })
})
