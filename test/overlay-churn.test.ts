/**
 * Relays coming and going, with real processes on loopback: a relay joining late is in every
 * view quickly; a relay killed with SIGKILL leaves every view, what it was serving fails
 * fast with MemberLostError (never hanging until the timeout), and the survivors serve.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, register, MemberLostError, TimeoutError, type Connection, type Service } from '@herald/client'
import { killAll, startRelay, type RelayProc } from './harness.js'
import { deferred, text } from './patterns-helpers.js'
import { crashSigns, holds, poll, seesCluster, seesExactly, threeRelays, watch, within, type Watcher } from './overlay-helpers.js'

let r1: RelayProc, r2: RelayProc, r3: RelayProc, r4: RelayProc
let w1: Watcher, w2: Watcher, w3: Watcher, w4: Watcher
let c1: Connection

beforeAll(async () => {
  ;({ relays: [r1, r2, r3], watchers: [w1, w2, w3] } = await threeRelays())
  c1 = await connect({ port: r1.port })
})
afterAll(killAll)

describe('overlay: relays joining and dying', () => {
  it('a 4th relay joining late is in every view (and sees relays 1-3) within 2 s of its ready line', async () => {
    r4 = await startRelay(['--bootstrap', r1.addrs[0]!])
    const readyAt = performance.now()
    w4 = await watch(r4)
    const ids = [r1, r2, r3, r4].map((r) => r.peerId)
    const views = [w1, w2, w3, w4]
    await poll(async () => {
      const ok = await Promise.all(views.map((w) => seesExactly(w, ids.filter((id) => id !== w.relay.peerId))))
      return ok.every(Boolean)
    }, 2000 - (performance.now() - readyAt), 'every view to list all four relays, linked, within 2 s of the ready line')
    expect(performance.now() - readyAt).toBeLessThan(2000)
  })

  it('a relay killed with SIGKILL leaves every view within 3 s; its in-flight requests fail with MemberLostError within 2 s; survivors serve', async () => {
    // Cluster "ch-work": a member on relay 2 that answers, and one on relay 4 that holds every
    // request it gets (so requests routed to relay 4 are in flight when it dies).
    const held = { n: 0, first: deferred() }
    const svcs: Service[] = await Promise.all([
      register({ port: r2.port, cluster: 'ch-work', handler: { handleRequest: () => 'r2' } }),
      register({
        port: r4.port, cluster: 'ch-tunnel',
        handler: { async handleTunnel(tun) { for await (const m of tun) await tun.send(m) }, handleDrop() {} },
      }),
      register({
        port: r4.port, cluster: 'ch-work',
        handler: {
          handleRequest: () => {
            held.n++
            held.first.resolve()
            return new Promise<never>(() => {})
          },
          handleDrop() {},
        },
      }),
    ])
    try {
      await Promise.all([seesCluster(w1, r2.peerId, 'ch-work'), seesCluster(w1, r4.peerId, 'ch-work'), seesCluster(w1, r4.peerId, 'ch-tunnel')])
      // A tunnel from relay 1 to the member on relay 4, open and working when relay 4 dies.
      const tun = await c1.tunnel('ch-tunnel', { timeoutMs: 5000 })
      await tun.send('echo?')
      expect(text(await tun.receive({ timeoutMs: 5000 }))).toBe('echo?')
      const tunnelEnd = tun.receive({ timeoutMs: 10_000 }).then(
        () => ({ err: new Error('the tunnel delivered a message after its relay died') as unknown, at: performance.now() }),
        (err: unknown) => ({ err, at: performance.now() }),
      )
      type Outcome = { batch: 'first' | 'racing'; ok?: string; err?: unknown; at: number }
      const outcomes: Outcome[] = []
      const settle = (batch: Outcome['batch'], p: Promise<Uint8Array>): Promise<void> => p.then(
        (b) => { outcomes.push({ batch, ok: text(b), at: performance.now() }) },
        (err: unknown) => { outcomes.push({ batch, err, at: performance.now() }) },
      )
      const of = (batch: Outcome['batch']): Outcome[] => outcomes.filter((o) => o.batch === batch)
      const first = Array.from({ length: 20 }, () => settle('first', c1.request('ch-work', 'x', { timeoutMs: 10_000 })))
      await within(held.first.promise, 5000, () => 'no request reached the member on relay 4')
      await poll(async () => outcomes.length + held.n >= 20, 5000, 'the member on relay 2 to answer its share')
      const heldBefore = held.n
      expect(heldBefore).toBeGreaterThan(0)

      r4.kill('SIGKILL')
      const killedAt = performance.now()
      // Requests sent right after the kill, before anyone noticed: answered, or MemberLost; never hung.
      const racing = Array.from({ length: 10 }, () => settle('racing', c1.request('ch-work', 'y', { timeoutMs: 5000 })))

      await within(Promise.all(first), 2000, () => `in-flight requests still pending 2 s after the kill (${of('first').length} of 20 settled)`)
      const settledAt = performance.now()
      const lost = of('first').filter((o) => o.err !== undefined)
      expect(lost.length).toBe(heldBefore)
      for (const o of lost) {
        expect(o.err).toBeInstanceOf(MemberLostError)
        expect(o.at - killedAt).toBeLessThan(2000)
      }
      expect(of('first').filter((o) => o.ok === 'r2').length).toBe(20 - heldBefore)
      expect(settledAt - killedAt).toBeLessThan(2000)
      const t = await within(tunnelEnd, 2000, () => 'the tunnel to relay 4 still open 2 s after the kill')
      expect(t.err).toBeInstanceOf(MemberLostError)
      expect(t.at - killedAt).toBeLessThan(2000)

      const survivors = [w1, w2, w3]
      await poll(async () => {
        for (const w of survivors) if ((await w.peerIds()).includes(r4.peerId)) return false
        return true
      }, 3000 - (performance.now() - killedAt), 'relay 4 to leave every view within 3 s of the kill')
      expect(performance.now() - killedAt).toBeLessThan(3000)
      for (const w of survivors) expect(await seesExactly(w, [r1, r2, r3].map((r) => r.peerId).filter((id) => id !== w.relay.peerId))).toBe(true)

      await Promise.all(racing)
      for (const o of of('racing')) {
        if (o.err !== undefined) expect(o.err).toBeInstanceOf(MemberLostError)
        else expect(o.ok).toBe('r2')
        expect(o.err).not.toBeInstanceOf(TimeoutError)
      }

      // The survivors serve: every request from relay 1 (and relay 3) now reaches relay 2's member.
      const c3 = await connect({ port: r3.port })
      try {
        for (const c of [c1, c3]) {
          const replies = await Promise.all(Array.from({ length: 50 }, () => c.request('ch-work', 'z', { timeoutMs: 5000 })))
          expect(replies.map(text)).toEqual(Array(50).fill('r2'))
        }
      } finally {
        await c3.close()
      }
      for (const r of [r1, r2, r3]) expect(crashSigns(r.stderr()), r.stderr()).toEqual([])
    } finally {
      await svcs[0]!.close()
      await Promise.all(svcs.slice(1).map((x) => x.close().catch(() => {})))
    }
  })

  it('the relay everyone bootstrapped from dies: the others stay linked and keep serving each other', async () => {
    const svc = await register({ port: r2.port, cluster: 'ch-after', handler: { handleRequest: (r) => `r2:${text(r)}` } })
    try {
      await seesCluster(w3, r2.peerId, 'ch-after')
      r1.kill('SIGKILL')
      const killedAt = performance.now()
      await poll(async () => (await seesExactly(w2, [r3.peerId])) && (await seesExactly(w3, [r2.peerId])),
        3000, 'relays 2 and 3 to drop relay 1 and keep each other')
      expect(performance.now() - killedAt).toBeLessThan(3000)
      const c3 = await connect({ port: r3.port })
      try {
        expect(text(await c3.request('ch-after', 'q', { timeoutMs: 5000 }))).toBe('r2:q')
      } finally {
        await c3.close()
      }
      // And they stay linked past the failure detector's expiry (heartbeats keep flowing).
      await holds(async () => (await seesExactly(w2, [r3.peerId])) && (await seesExactly(w3, [r2.peerId])),
        3000, 'relays 2 and 3 to stay linked to each other')
    } finally {
      await svc.close()
    }
  })
})
