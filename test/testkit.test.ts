/**
 * @herald/testkit against real relays: what a user's test does with it (start, connect,
 * register, status, freeze/thaw, kill9, stop, pressure between the SDK and the relay, a
 * network with partition and heal), and that relays never outlive the test that started them.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { TimeoutError } from '@herald/client'
import { cleanup, startNetwork, startRelay } from '@herald/testkit'
import { ROOT, killAll, spawnNode, until } from './harness.js'

afterAll(async () => { await cleanup(); await killAll() })

describe('testkit: one relay', () => {
  it('starts a relay on a free port; clients and members use it; status answers', async () => {
    const relay = await startRelay()
    expect(relay.port).toBeGreaterThan(0)
    expect(relay.state).toBe('running')
    await relay.register({ cluster: 'echo', handler: { handleRequest: (r) => r } })
    const conn = await relay.connect()
    expect(Buffer.from(await conn.request('echo', 'hi', { timeoutMs: 5000 })).toString()).toBe('hi')
    const s = await relay.status()
    expect(s.nodeId).toBe(relay.peerId)
    expect(s.clusters.find((c) => c.name === 'echo')?.members).toBe(1)
    expect(await relay.stop()).toBe(0)
    expect(relay.state).toBe('exited')
  })

  it('freeze() makes it answer nothing (a TimeoutError), thaw() brings it back; kill9() ends it at once', async () => {
    const relay = await startRelay()
    await relay.status()
    relay.freeze()
    expect(relay.state).toBe('frozen')
    await expect(relay.status({ timeoutMs: 300 })).rejects.toBeInstanceOf(TimeoutError)
    relay.thaw()
    expect((await relay.status()).nodeId).toBe(relay.peerId)
    await relay.kill9()
    expect(await relay.exited).toBe('SIGKILL')
    expect(relay.state).toBe('exited')
  })

  it('puts pressure between a client and its relay: 100 ms each way makes a round trip of at least 200 ms', async () => {
    const relay = await startRelay()
    await relay.register({ cluster: 'echo', handler: { handleRequest: (r) => r } })
    const slow = await relay.connect({ pressure: { latencyMs: 100 } })
    const t0 = performance.now()
    await slow.request('echo', 'x', { timeoutMs: 10_000 })
    expect(performance.now() - t0).toBeGreaterThanOrEqual(200)
    await expect(slow.request('echo', 'x', { timeoutMs: 50 })).rejects.toBeInstanceOf(TimeoutError)
  })

  it('refuses an unknown profile before starting anything', async () => {
    const relay = await startRelay()
    await expect(relay.clientProxy('lossy-lan')).rejects.toThrow(/unknown profile "lossy-lan"/)
  })

  it('reports a relay that cannot start, with its stderr', async () => {
    await expect(startRelay({ args: ['--no-such-flag'] })).rejects.toThrow(/exited \(2\) before it was ready[\s\S]*no-such-flag/)
  })
})

describe('testkit: a network of relays', () => {
  it('joins three relays behind proxies; a partition takes one out of the views, heal brings it back', async () => {
    const net = await startNetwork({ relays: 3 })
    const [a, b, c] = net.relays
    expect(net.relays.map((r) => r.name)).toEqual(['A', 'B', 'C'])
    // Every relay-to-relay connection crosses a proxy: the announced address is the proxy's.
    for (const r of net.relays) expect(r.addrs[0]).toContain(`/tcp/${net.proxy(r).port}/`)
    await c!.register({ cluster: 'far', handler: { handleRequest: () => 'from C' } })
    const conn = await a!.connect()
    await until(async () => (await a!.status()).peers.some((p) => p.nodeId === c!.peerId && (p.clusters['far']?.members ?? 0) > 0), 15_000, 'A to know C\'s member')
    expect(Buffer.from(await conn.request('far', '', { timeoutMs: 5000 })).toString()).toBe('from C')

    net.partition(c!)
    await until(async () => !(await a!.status()).peers.some((p) => p.nodeId === c!.peerId && !p.suspected), 20_000, 'A to suspect or drop C')
    await until(async () => !(await b!.status()).peers.some((p) => p.nodeId === c!.peerId && !p.suspected), 20_000, 'B to suspect or drop C')
    // Connections C opened were labelled as C's, and are held (those opened since wait, undialled).
    for (const r of [a!, b!]) {
      for (const info of net.proxy(r).connections().filter((x) => x.label === 'C')) expect(info.state === 'waiting' || info.up.state === 'partitioned', JSON.stringify(info)).toBe(true)
    }

    net.heal()
    await net.waitForViews({ timeoutMs: 20_000 })
    await until(async () => {
      try { return Buffer.from(await conn.request('far', '', { timeoutMs: 1000 })).toString() === 'from C' } catch { return false }
    }, 20_000, 'a request to C after the heal')
    await net.stop()
    expect(net.relays.every((r) => r.state === 'exited')).toBe(true)
  }, 90_000)

  it('waitForViews() waits until a killed relay has left every view', async () => {
    const net = await startNetwork({ relays: 3 })
    await net.relays[2]!.kill9()
    const statuses = await net.waitForViews({ timeoutMs: 30_000 })
    for (const s of statuses.values()) expect(s.peers.map((p) => p.nodeId)).not.toContain(net.relays[2]!.peerId)
  }, 60_000)
})

describe('testkit: relays never outlive the test', () => {
  for (const how of ['hang', 'crash'] as const) {
    it(`a test process that ${how === 'hang' ? 'is killed with SIGKILL' : 'crashes'} takes its relay with it`, async () => {
      const p = spawnNode(join(ROOT, 'test/fixtures/testkit-orphan.ts'), [how], { nodeArgs: ['--import', 'tsx'] })
      const pid = Number((await p.waitFor(/^relay (\d+)$/m, 30_000))[1])
      expect(existsSync(`/proc/${pid}`)).toBe(true)
      if (how === 'hang') p.kill('SIGKILL')
      await p.exited
      await until(() => !existsSync(`/proc/${pid}`), 10_000, `relay ${pid} to exit`)
    }, 45_000)
  }
})
