/**
 * Network separation on one machine, with real relay processes on loopback: relays of two
 * network names never merge even when bootstrapped to each other, and relays with different
 * network key files never link (and do not crash trying), while the same key file links.
 */
import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, register, NoMembersError } from '@herald/client'
import { killAll, runCli, startRelay } from './harness.js'
import { text } from './patterns-helpers.js'
import { crashSigns, describeViews, holds, poll, seesCluster, seesExactly, startRelayRaw, watch } from './overlay-helpers.js'

const dir = mkdtempSync(join(tmpdir(), 'herald-overlay-keys-'))

afterAll(async () => {
  await killAll()
  rmSync(dir, { recursive: true, force: true })
})

describe('overlay: separate networks on one machine', () => {
  it('relays of networks "a" and "b" bootstrapped to each other never merge; a member on b is unreachable from a', async () => {
    const a1 = await startRelay(['--network', 'a'])
    const b1 = await startRelay(['--network', 'b', '--bootstrap', a1.addrs[0]!])
    // A second relay of each network, bootstrapped to both (its own network's relay is the control).
    const [a2, b2] = await Promise.all([
      startRelay(['--network', 'a', '--bootstrap', b1.addrs[0]!, '--bootstrap', a1.addrs[0]!]),
      startRelay(['--network', 'b', '--bootstrap', a1.addrs[0]!, '--bootstrap', b1.addrs[0]!]),
    ])
    const [wa1, wa2, wb1, wb2] = await Promise.all([watch(a1), watch(a2), watch(b1), watch(b2)])
    const svc = await register({ port: b1.port, cluster: 'net-svc', handler: { handleRequest: (r) => `b:${text(r)}` } })
    const ca = await connect({ port: a1.port })
    const cb = await connect({ port: b2.port })
    try {
      // Same network: linked, and the member on b1 serves b2's client.
      await poll(async () => (await seesExactly(wa1, [a2.peerId])) && (await seesExactly(wa2, [a1.peerId])) &&
        (await seesExactly(wb1, [b2.peerId])) && (await seesExactly(wb2, [b1.peerId])), 10_000, 'each network to form its own pair',
        () => describeViews([wa1, wa2, wb1, wb2]))
      await seesCluster(wb2, b1.peerId, 'net-svc')
      expect(text(await cb.request('net-svc', 'q', { timeoutMs: 5000 }))).toBe('b:q')
      // Across networks: nothing, for as long as we look (no event can say "never").
      await holds(async () => {
        const views = await Promise.all([wa1, wa2, wb1, wb2].map((w) => w.status()))
        const [va1, va2, vb1, vb2] = views.map((v) => v.peers.map((p) => p.nodeId))
        return va1!.every((id) => id === a2.peerId) && va2!.every((id) => id === a1.peerId) &&
          vb1!.every((id) => id === b2.peerId) && vb2!.every((id) => id === b1.peerId)
      }, 3000, 'no relay lists a relay of the other network')
      await expect(ca.request('net-svc', 'q', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoMembersError)
      const stA = await wa1.status()
      expect(stA.network).toBe('a')
      expect(stA.links.map((l) => l.nodeId)).toEqual([a2.peerId])
      for (const r of [a1, a2, b1, b2]) expect(crashSigns(r.stderr()), r.stderr()).toEqual([])
    } finally {
      await ca.close()
      await cb.close()
      await svc.close()
      await Promise.all([wa1, wa2, wb1, wb2].map((w) => w.close()))
    }
  })

  it('relays with different key files never link and do not crash; a relay with the same key file links', async () => {
    const k1 = join(dir, 'k1.key')
    const k2 = join(dir, 'k2.key')
    for (const f of [k1, k2]) {
      const r = await runCli(['keygen', '--out', f])
      expect(r.code, r.stderr).toBe(0)
      expect(statSync(f).mode & 0o777).toBe(0o600)
    }
    const x1 = await startRelayRaw(['--key-file', k1])
    const x2 = await startRelayRaw(['--key-file', k2, '--bootstrap', x1.addrs[0]!])
    const [w1, w2] = await Promise.all([watch(x1), watch(x2)])
    try {
      await holds(async () => (await w1.status()).peers.length === 0 && (await w2.status()).peers.length === 0,
        3000, 'relays with different keys stay unlinked')
      for (const r of [x1, x2]) {
        expect(r.child.exitCode).toBeNull()
        expect(crashSigns(r.stderr()), r.stderr()).toEqual([])
      }

      // The same key file: links both ways, and requests cross.
      const x3 = await startRelayRaw(['--key-file', k1, '--bootstrap', x1.addrs[0]!])
      const w3 = await watch(x3)
      const svc = await register({ port: x3.port, cluster: 'key-svc', handler: { handleRequest: (r) => `x3:${text(r)}` } })
      try {
        await poll(async () => (await seesExactly(w1, [x3.peerId])) && (await seesExactly(w3, [x1.peerId])), 10_000, 'relays with the same key to link')
        await seesCluster(w1, x3.peerId, 'key-svc')
        expect(text(await w1.conn.request('key-svc', 'k', { timeoutMs: 5000 }))).toBe('x3:k')
        // The relay with the other key still sees nobody, and cannot reach the member.
        expect((await w2.status()).peers).toEqual([])
        await expect(w2.conn.request('key-svc', 'k', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoMembersError)
      } finally {
        await svc.close()
        await w3.close()
      }
      for (const r of [x1, x2, x3]) expect(crashSigns(r.stderr()), r.stderr()).toEqual([])
    } finally {
      await w1.close()
      await w2.close()
    }
  })

  it('a key file readable by other users is refused with a usage error', async () => {
    const f = join(dir, 'loose.key')
    const r = await runCli(['keygen', '--out', f])
    expect(r.code, r.stderr).toBe(0)
    chmodSync(f, 0o644)
    const res = await runCli(['relay', '--key-file', f, '--port', '0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { timeoutMs: 10_000 })
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/readable by other users/)
  })
})
