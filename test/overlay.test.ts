/**
 * The overlay, with three real relay processes on loopback (relays 2 and 3 bootstrapped to
 * relay 1): every pattern crosses relays. A member on relay 3 answers relay 1 soon after it
 * registers; broadcasts reach members on every relay once; 10,000 events cross in order;
 * requests are balanced over members on different relays; tunnels cross relays in order,
 * byte-identical and flow controlled (a slow reader throttles the writer, relays stay flat).
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, register, NoMembersError, type Connection, type Service, type Tunnel } from '@herald/client'
import { ROOT, killAll, rssOf, runCli, spawnNode, type RelayProc } from './harness.js'
import { counter, deferred, echoSeeded, seqOf, seqPayload, text } from './patterns-helpers.js'
import { seesCluster, seesTopic, threeRelays, within, type Watcher } from './overlay-helpers.js'

const SLOW_MEMBER = join(ROOT, 'test/fixtures/slow-tunnel-member.ts')
const KiB = 1024
const MiB = 1024 * KiB

let r1: RelayProc, r2: RelayProc, r3: RelayProc
let w1: Watcher
let c1: Connection

beforeAll(async () => {
  ;({ relays: [r1, r2, r3], watchers: [w1] } = await threeRelays())
  c1 = await connect({ port: r1.port })
})
afterAll(killAll)

describe('overlay: three relays', () => {
  it('a member registered on relay 3 answers a client on relay 1 within 2 s of registering', async () => {
    const svc = await register({ port: r3.port, cluster: 'ov-first', handler: { handleRequest: (r) => `r3:${text(r)}` } })
    const registeredAt = performance.now()
    try {
      let reply: Uint8Array | undefined
      let noMembers = 0
      while (reply === undefined) {
        try {
          reply = await c1.request('ov-first', 'hi', { timeoutMs: 2000 })
        } catch (err) {
          if (!(err instanceof NoMembersError) || performance.now() - registeredAt > 2000) throw err
          noMembers++
          await new Promise((r) => setTimeout(r, 20)) // the directory is only visible by trying
        }
      }
      const elapsed = performance.now() - registeredAt
      expect(text(reply)).toBe('r3:hi')
      expect(elapsed, `answered after ${elapsed.toFixed(0)} ms (${noMembers} NoMembersError first)`).toBeLessThan(2000)
    } finally {
      await svc.close()
    }
  })

  it('members on relays 2 and 3 each receive every one of 100 broadcasts sent via relay 1, exactly once', async () => {
    const got = { r2: [] as number[], r3: [] as number[] }
    const fences = { r2: deferred(), r3: deferred() }
    const FENCE = 0xffffffff
    const member = (relay: RelayProc, name: 'r2' | 'r3'): Promise<Service> => register({
      port: relay.port, cluster: 'ov-bcast',
      handler: {
        handleBroadcast(m) {
          const seq = seqOf(m)
          if (seq === FENCE) fences[name].resolve()
          else got[name].push(seq)
        },
      },
    })
    const svcs = await Promise.all([member(r2, 'r2'), member(r3, 'r3')])
    try {
      await Promise.all([seesCluster(w1, r2.peerId, 'ov-bcast'), seesCluster(w1, r3.peerId, 'ov-bcast')])
      for (let i = 0; i < 100; i++) await c1.broadcast('ov-bcast', seqPayload(i, 32))
      // A last broadcast on the same path: once it is in, every earlier one is (or was lost).
      await c1.broadcast('ov-bcast', seqPayload(FENCE))
      await within(Promise.all([fences.r2.promise, fences.r3.promise]), 10_000,
        () => `fence broadcast not seen (r2 has ${got.r2.length}, r3 has ${got.r3.length})`)
      const all = Array.from({ length: 100 }, (_, i) => i)
      expect([...got.r2].sort((a, b) => a - b)).toEqual(all)
      expect([...got.r3].sort((a, b) => a - b)).toEqual(all)
    } finally {
      await Promise.all(svcs.map((s) => s.close()))
    }
  })

  it('a subscriber on relay 3 gets 10,000 events published on relay 1, in order, none lost', async () => {
    const n = 10_000
    const conn3 = await connect({ port: r3.port })
    const seen: number[] = []
    const all = counter(n)
    try {
      const sub = await conn3.subscribe('ov-events', { handleEvent(ev) { seen.push(seqOf(ev)); all.hit() } })
      await seesTopic(w1, r3.peerId, 'ov-events')
      for (let i = 0; i < n; i++) await c1.publish('ov-events', seqPayload(i, 64))
      await within(all.done, 20_000, () => `only ${seen.length} of ${n} events arrived (stats ${JSON.stringify(sub.stats())})`)
      let outOfOrder = -1
      for (let i = 0; i < n; i++) if (seen[i] !== i) { outOfOrder = i; break }
      expect(outOfOrder, `first event out of order at index ${outOfOrder}: got ${seen[outOfOrder]}`).toBe(-1)
      expect(sub.stats().dropped).toBe(0)
      await sub.unsubscribe()
    } finally {
      await conn3.close()
    }
  })

  describe('requests from relay 1 are balanced over members on relays 2 and 3', () => {
    let svcs: Service[] = []
    beforeAll(async () => {
      const member = (relay: RelayProc, name: string): Promise<Service> =>
        register({ port: relay.port, cluster: 'ov-balance', handler: { handleRequest: () => name } })
      svcs = await Promise.all([member(r2, 'r2'), member(r3, 'r3')])
      await Promise.all([seesCluster(w1, r2.peerId, 'ov-balance'), seesCluster(w1, r3.peerId, 'ov-balance')])
    })
    afterAll(async () => {
      await Promise.all(svcs.map((s) => s.close()))
    })

    const run = async (total: number, inFlight: number): Promise<Record<string, number>> => {
      const counts: Record<string, number> = {}
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < total) {
          next++
          const who = text(await c1.request('ov-balance', 'x', { timeoutMs: 10_000 }))
          counts[who] = (counts[who] ?? 0) + 1
        }
      }
      await Promise.all(Array.from({ length: inFlight }, worker))
      return counts
    }

    for (const inFlight of [1, 16]) {
      it(`2,000 requests, ${inFlight} in flight: each member answers 35-65%`, async () => {
        const counts = await run(2000, inFlight)
        expect(Object.keys(counts).sort()).toEqual(['r2', 'r3'])
        expect((counts['r2'] ?? 0) + (counts['r3'] ?? 0)).toBe(2000)
        for (const who of ['r2', 'r3']) {
          expect(counts[who], JSON.stringify(counts)).toBeGreaterThanOrEqual(700)
          expect(counts[who], JSON.stringify(counts)).toBeLessThanOrEqual(1300)
        }
      })
    }
  })

  it('`herald status` (human form) on relay 1 lists the other relays and their clusters', async () => {
    const svcs = await Promise.all([
      register({ port: r2.port, cluster: 'ov-status-a', handler: { handleRequest: () => 'a' } }),
      register({ port: r3.port, cluster: 'ov-status-b', handler: { handleRequest: () => 'b' } }),
      register({ port: r3.port, cluster: 'ov-status-b', handler: { handleRequest: () => 'b' } }),
    ])
    const conn3 = await connect({ port: r3.port })
    try {
      await conn3.subscribe('ov-status-topic')
      await Promise.all([seesCluster(w1, r2.peerId, 'ov-status-a'), seesCluster(w1, r3.peerId, 'ov-status-b', 2), seesTopic(w1, r3.peerId, 'ov-status-topic')])
      const { code, stdout, stderr } = await runCli(['status', '--port', String(r1.port)])
      expect(code, stderr).toBe(0)
      const lines = stdout.split('\n')
      expect(lines.some((l) => l.startsWith('peers'))).toBe(true)
      const line2 = lines.find((l) => l.includes(r2.peerId))
      const line3 = lines.find((l) => l.includes(r3.peerId))
      expect(line2, stdout).toBeDefined()
      expect(line3, stdout).toBeDefined()
      expect(line2).toContain('ov-status-a(1)')
      expect(line2).not.toContain('not linked')
      expect(line3).toContain('ov-status-b(2)')
      expect(line3).toContain('ov-status-topic')
      expect(line3).not.toContain('ov-status-a')
    } finally {
      await conn3.close()
      await Promise.all(svcs.map((s) => s.close()))
    }
  })

  it('a tunnel from relay 1 to a member on relay 2 echoes 5,000 messages (0..16 KiB) in order, byte-identical', async () => {
    const svc = await register({
      port: r2.port, cluster: 'ov-echo',
      handler: {
        async handleTunnel(tun) {
          for await (const m of tun) await tun.send(m)
          await tun.close()
        },
      },
    })
    try {
      await seesCluster(w1, r2.peerId, 'ov-echo')
      const tun = await c1.tunnel('ov-echo', { timeoutMs: 5000 })
      const n = 5000
      const seed = 0x0e7a
      const sizeOf = (i: number, next: () => number): number => (i % 97 === 0 ? 0 : i % 89 === 0 ? 16 * KiB : next() % (16 * KiB + 1))
      const r = await echoSeeded(tun, { n, seed, sizeOf, sendTimeoutMs: 10_000 })
      expect(r.firstMismatch, r.mismatch).toBe(-1)
      expect(r.bytes).toBeGreaterThan(n * 7 * KiB) // ~40 MiB each way
      await tun.close()
    } finally {
      await svc.close()
    }
  })

  it('1,100 tunnels opened and closed one after another across relays all work (closed streams are released)', async () => {
    // libp2p allows 1,000 streams per connection: a tunnel whose stream is not released on
    // both relays when it ends would make tunnel 1,001 fail.
    const svc = await register({
      port: r2.port, cluster: 'ov-many',
      handler: {
        async handleTunnel(tun) {
          const m = await tun.receive({ timeoutMs: 5000 })
          await tun.send(m)
          if (text(m).endsWith('member-closes')) await tun.close()
          else for await (const _ of tun) { /* until the client closes */ }
        },
      },
    })
    try {
      await seesCluster(w1, r2.peerId, 'ov-many')
      const openedBefore = (await w1.status()).counters['tunnelsOpened'] ?? 0
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < 1100) {
          const i = next++
          const who = i % 2 === 0 ? 'client-closes' : 'member-closes'
          const tun = await c1.tunnel('ov-many', { timeoutMs: 5000 })
          await tun.send(`${i} ${who}`)
          expect(text(await tun.receive({ timeoutMs: 5000 }))).toBe(`${i} ${who}`)
          if (who === 'client-closes') await tun.close()
          else expect((await tun.next({ timeoutMs: 5000 })).done).toBe(true)
        }
      }
      try {
        await Promise.all(Array.from({ length: 4 }, worker))
      } catch (err) {
        throw new Error(`after ${next} tunnels: ${String(err)}\nrelay 1: ${r1.stderr()}\nrelay 2: ${r2.stderr()}`, { cause: err })
      }
      // Every one of them reached the member through relay 1 (counted there and at the member).
      expect(svc.stats.tunnels).toBe(1100)
      expect((await w1.status()).counters['tunnelsOpened']! - openedBefore).toBe(1100)
    } finally {
      await svc.close()
    }
  })

  it('a tunnel across relays to a slow reader throttles the writer; relays 1 and 2 grow < 64 MiB RSS while 100+ MiB pass', async () => {
    const msg = 128 * KiB
    // The reader (another process, on relay 2) takes one message every 2 ms and reports its
    // consumption every 4 messages on the same tunnel.
    const member = spawnNode(SLOW_MEMBER, [String(r2.port), 'ov-slow', '2', '4'], { nodeArgs: ['--import', 'tsx'] })
    await member.waitFor(/slow-tunnel-member: ready/)
    await seesCluster(w1, r2.peerId, 'ov-slow')
    const conn = await connect({ port: r1.port })
    let tun: Tunnel | undefined
    try {
      tun = await conn.tunnel('ov-slow', { timeoutMs: 5000 })
      const t = tun
      let consumed = 0
      const waiters: Array<{ bytes: number; resolve: () => void }> = []
      const reports = (async () => {
        try {
          for await (const m of t) {
            consumed = Number(new DataView(m.buffer, m.byteOffset, m.byteLength).getBigUint64(0, true))
            for (let i = waiters.length - 1; i >= 0; i--) {
              if (consumed >= waiters[i]!.bytes) waiters.splice(i, 1)[0]!.resolve()
            }
          }
        } catch { /* closed at the end */ }
      })()
      const whenConsumed = (bytes: number): Promise<void> => new Promise((resolve) => {
        if (consumed >= bytes) resolve()
        else waiters.push({ bytes, resolve })
      })

      const chunk = new Uint8Array(msg).fill(0x5a)
      let sent = 0
      // Warm-up (JIT, buffers, stream windows), then the baseline.
      for (let i = 0; i < 32; i++) { await t.send(chunk, { timeoutMs: 10_000 }); sent += msg }
      await whenConsumed(2 * MiB)
      const base1 = rssOf(r1.pid)
      const base2 = rssOf(r2.pid)
      let max1 = base1
      let max2 = base2
      let maxAhead = 0
      const sample = (): void => {
        max1 = Math.max(max1, rssOf(r1.pid))
        max2 = Math.max(max2, rssOf(r2.pid))
        maxAhead = Math.max(maxAhead, sent - consumed)
      }
      const sampler = setInterval(sample, 50)
      const target = sent + 104 * MiB
      try {
        while (sent < target) {
          await t.send(chunk, { timeoutMs: 10_000 })
          sent += msg
          if ((sent / msg) % 8 === 0) sample()
        }
        sample()
        await whenConsumed(sent)
      } finally {
        clearInterval(sampler)
      }
      sample()
      const info = `sent ${(sent / MiB).toFixed(0)} MiB, max ahead ${(maxAhead / KiB).toFixed(0)} KiB, ` +
        `relay 1 +${((max1 - base1) / MiB).toFixed(1)} MiB, relay 2 +${((max2 - base2) / MiB).toFixed(1)} MiB`
      expect(sent, info).toBeGreaterThanOrEqual(100 * MiB)
      // The writer never got more than the 1 MiB window (plus one message of overshoot and the
      // reader's four-message report lag, plus one in transit) ahead of what the reader took.
      expect(maxAhead, info).toBeLessThanOrEqual(1 * MiB + 6 * msg)
      expect(max1 - base1, info).toBeLessThan(64 * MiB)
      expect(max2 - base2, info).toBeLessThan(64 * MiB)
      await t.close()
      await reports
    } finally {
      await conn.close()
      member.kill()
    }
  })
})
