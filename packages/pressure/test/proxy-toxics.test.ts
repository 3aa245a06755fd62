/**
 * Each toxic on its own, through real sockets. Time is only ever bounded from below (the
 * proxy must not deliver early); absence is shown by what the target received and by the
 * proxy's counters while the toxic holds.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { performance } from 'node:perf_hooks'
import { closeAll, connectRaw, outcome, throughProxy, dial, payload, readAll, sleep, startProxy, startTarget, until, writeAll } from './helpers.js'
import { seededRandom } from '../src/index.js'

afterAll(closeAll)

/** One request/response through an echo target: what came back, and the round trip in ms. */
async function roundTrip(s: import('node:net').Socket, msg: Buffer): Promise<{ ms: number; data: Buffer }> {
  const t0 = performance.now()
  const chunks: Buffer[] = []
  let got = 0
  await new Promise<void>((resolve) => {
    const onData = (c: Buffer): void => {
      chunks.push(c)
      got += c.length
      if (got >= msg.length) {
        s.off('data', onData)
        resolve()
      }
    }
    s.on('data', onData)
    s.write(msg)
  })
  return { ms: performance.now() - t0, data: Buffer.concat(chunks) }
}

/** Asserts an echo round trip returns the very bytes sent. */
async function echoes(s: import('node:net').Socket, msg: Buffer): Promise<void> {
  expect((await roundTrip(s, msg)).data.equals(msg)).toBe(true)
}

describe('latency, jitter and loss', () => {
  it('delays each direction by its latency: a round trip takes at least up + down', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target, { config: { up: { latencyMs: 40 }, down: { latencyMs: 25 } } })
    const s = await dial(proxy.port)
    for (let i = 0; i < 3; i++) {
      const { ms, data } = await roundTrip(s, payload(100, i))
      expect(data.equals(payload(100, i))).toBe(true)
      expect(ms).toBeGreaterThanOrEqual(64)
    }
  })

  it('holds a lost segment back for at least the 200 ms retransmission timeout', async () => {
    const target = await startTarget('echo')
    // A seeded draw: which round trips lose a segment is fixed, so the counts are too.
    const proxy = await startProxy(target, { config: { loss: 0.25 }, random: seededRandom(11) })
    const s = await dial(proxy.port)
    const slow: number[] = []
    for (let i = 0; i < 16; i++) {
      const { ms } = await roundTrip(s, payload(50, i))
      if (ms >= 200) slow.push(ms)
    }
    const [c] = proxy.connections()
    const heldBack = c!.up.heldBack + c!.down.heldBack
    expect(heldBack).toBeGreaterThan(0)
    // Every round trip that lost a segment waited >= 200 ms; at most two losses per round trip.
    expect(slow.length).toBeGreaterThanOrEqual(Math.ceil(heldBack / 2))
    expect(c!.up.segments).toBe(16)
  })
})

describe('bandwidth', () => {
  it('paces a bulk transfer at the configured rate (after the burst)', async () => {
    const target = await startTarget('record')
    const proxy = await startProxy(target, { config: { up: { bandwidth: 1_000_000, burstBytes: 20_000 } } })
    const s = await dial(proxy.port)
    const data = payload(300_000)
    const t0 = performance.now()
    await writeAll(s, [data])
    await until(() => Buffer.concat(target.received[0] ?? []).length === data.length, 'all bytes at the target')
    // 280 kB beyond the burst at 1 MB/s cannot arrive in less than 280 ms.
    expect(performance.now() - t0).toBeGreaterThanOrEqual(279)
    expect(Buffer.concat(target.received[0]!).equals(data)).toBe(true)
  })
})

describe('partitions', () => {
  it('holds everything while partitioned (no reset), then delivers it all after heal', async () => {
    const { target, proxy, s } = await throughProxy('record')
    proxy.partition()
    const data = payload(100_000, 5)
    await writeAll(s, [data], false)
    await until(() => proxy.connections()[0]!.up.bytesIn === data.length, 'the proxy to accept every byte')
    await sleep(100)
    expect(target.received[0]!.length).toBe(0)
    const [c] = proxy.connections()
    expect(c!.up.state).toBe('partitioned')
    expect(c!.up.heldBytes).toBe(data.length)
    expect(s.destroyed).toBe(false)
    proxy.heal()
    await until(() => Buffer.concat(target.received[0]!).length === data.length, 'the held bytes')
    expect(Buffer.concat(target.received[0]!).equals(data)).toBe(true)
  })

  it('partitions one way: up is held while down flows', async () => {
    const { target, proxy, s } = await throughProxy('record')
    proxy.partition({ direction: 'up' })
    const down: Buffer[] = []
    s.on('data', (c: Buffer) => down.push(c))
    s.write(payload(1000, 1))
    target.accepted[0]!.write(payload(2000, 2))
    await until(() => Buffer.concat(down).length === 2000, 'the target -> client bytes')
    expect(Buffer.concat(down).equals(payload(2000, 2))).toBe(true)
    expect(target.received[0]!.length).toBe(0)
    proxy.heal()
    await until(() => Buffer.concat(target.received[0]!).length === 1000, 'the client -> target bytes')
  })

  it('does not dial the target for a connection made during a partition until it heals', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target)
    proxy.partition()
    const s = await dial(proxy.port)
    const back = readAll(s)
    s.end(payload(5000, 9))
    await until(() => proxy.connections()[0]?.state === 'waiting', 'the connection to wait')
    await sleep(100)
    expect(target.accepted.length).toBe(0)
    proxy.heal()
    expect((await back).equals(payload(5000, 9))).toBe(true)
    expect(target.accepted.length).toBe(1)
  })

  it('partitions existing connections only, or new ones only, or one by id', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target)
    const a = await dial(proxy.port)
    const b = await dial(proxy.port)
    await until(() => proxy.connections().every((c) => c.state === 'open') && proxy.connections().length === 2, 'two open connections')
    const [ca, cb] = proxy.connections()
    proxy.partition({ scope: ca!.id })
    expect(proxy.connection(ca!.id)!.up.state).toBe('partitioned')
    expect(proxy.connection(cb!.id)!.up.state).toBe('flowing')
    proxy.partition({ scope: 'new' })
    expect(proxy.connection(cb!.id)!.up.state).toBe('flowing')
    expect(proxy.stats().state.partitioned).toEqual({ up: true, down: true })
    // b still answers; a does not until healed.
    await echoes(b, payload(10))
    proxy.heal({ scope: 'existing' })
    expect(proxy.stats().state.partitioned).toEqual({ up: true, down: true })
    await echoes(a, payload(10))
    proxy.heal()
    expect(proxy.stats().state.partitioned).toEqual({ up: false, down: false })
  })

  it('partitions the connections of one label, open and to come, and heals them alone', async () => {
    const target = await startTarget('echo')
    // Two "clients": the even and the odd source ports.
    const proxy = await startProxy(target, { classify: (c) => (c.port % 2 === 0 ? 'even' : 'odd') })
    const socks = await Promise.all(Array.from({ length: 6 }, () => dial(proxy.port)))
    await until(() => proxy.connections().length === 6 && proxy.connections().every((c) => c.state === 'open'), 'six open connections')
    const labelOf = (s: import('node:net').Socket): string => (s.localPort! % 2 === 0 ? 'even' : 'odd')
    expect(proxy.connections().map((c) => c.label).sort()).toEqual(socks.map(labelOf).sort())
    const victim = labelOf(socks[0]!)
    proxy.partition({ scope: { label: victim } })
    for (const c of proxy.connections()) expect(c.up.state).toBe(c.label === victim ? 'partitioned' : 'flowing')
    expect(proxy.stats().state.labels[victim]!.partitioned).toEqual({ up: true, down: true })
    expect(proxy.stats().state.partitioned).toEqual({ up: false, down: false })
    // A new connection of the label is held too (the target is not even dialled); others pass.
    const fresh = await Promise.all(Array.from({ length: 4 }, () => dial(proxy.port)))
    await until(() => proxy.connections().length === 10 && proxy.connections().every((c) => c.label === victim || c.state === 'open'), 'ten connections')
    for (const c of proxy.connections().filter((x) => x.id > 6)) expect(c.state).toBe(c.label === victim ? 'waiting' : 'open')
    for (const s of [...socks, ...fresh].filter((x) => labelOf(x) !== victim)) await echoes(s, payload(100, 3))
    const held = [...socks, ...fresh].filter((x) => labelOf(x) === victim)
    const back = held.map((s) => roundTrip(s, payload(100, 4)))
    await sleep(50)
    expect(proxy.stats().totals.up.bytesOut).toBe(proxy.stats().totals.up.bytesIn - 100 * socks.filter((x) => labelOf(x) === victim).length)
    proxy.heal({ scope: { label: victim } })
    expect(proxy.stats().state.labels).toEqual({})
    for (const r of await Promise.all(back)) expect(r.data.equals(payload(100, 4))).toBe(true)
  })

  it('a connection held by a partition dials the target of the time it heals (retarget meanwhile)', async () => {
    const first = await startTarget('echo')
    const second = await startTarget('echo')
    const proxy = await startProxy(first)
    proxy.partition({ scope: 'new' })
    const s = await dial(proxy.port)
    await until(() => proxy.connections().length === 1, 'the connection to be accepted')
    proxy.retarget({ host: '127.0.0.1', port: second.port })
    proxy.heal()
    await echoes(s, payload(200, 5))
    expect(first.accepted.length).toBe(0)
    expect(second.accepted.length).toBe(1)
    expect(proxy.connections()[0]!.target).toBe(`127.0.0.1:${second.port}`)
  })

  it('leaves a connection unlabelled when classify throws', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target, { classify: () => { throw new Error('no idea') } })
    const s = await dial(proxy.port)
    await echoes(s, payload(10))
    expect(proxy.connections()[0]!.label).toBeUndefined()
  })
})

describe('stalls', () => {
  it('freezes delivery for the stall, then delivers what waited', async () => {
    const { target, proxy, s } = await throughProxy('record')
    const t0 = performance.now()
    proxy.stall(150)
    s.write(payload(3000))
    await until(() => Buffer.concat(target.received[0]!).length === 3000, 'the bytes after the stall')
    expect(performance.now() - t0).toBeGreaterThanOrEqual(149)
    expect(Buffer.concat(target.received[0]!).equals(payload(3000))).toBe(true)
  })

  it('heal ends a stall early', async () => {
    const { target, proxy, s } = await throughProxy('record')
    proxy.stall(600_000, { direction: 'up' })
    s.write(payload(3000))
    await until(() => proxy.connections()[0]!.up.bytesIn === 3000, 'the bytes at the proxy')
    expect(proxy.connections()[0]!.up.state).toBe('stalled')
    expect(target.received[0]!.length).toBe(0)
    proxy.heal()
    await until(() => Buffer.concat(target.received[0]!).length === 3000, 'the bytes after heal')
    expect(Buffer.concat(target.received[0]!).equals(payload(3000))).toBe(true)
  })
})

describe('half-open', () => {
  it('accepts every byte and delivers none, with no FIN and no reset', async () => {
    const { target, proxy, s } = await throughProxy('record')
    proxy.halfOpen()
    let closed = false
    s.on('close', () => { closed = true })
    s.on('end', () => { closed = true })
    const data = payload(2_000_000)
    await writeAll(s, [data])
    await until(() => proxy.connections()[0]!.up.discardedBytes === data.length, 'every byte accepted')
    target.accepted[0]!.end(payload(100))
    await sleep(100)
    const [c] = proxy.connections()
    expect(c!.state).toBe('open')
    expect([c!.up.bytesOut, c!.down.bytesOut]).toEqual([0, 0])
    expect(target.received[0]!.length).toBe(0)
    expect(closed).toBe(false)
  })

  it('for new connections, never dials the target', async () => {
    const target = await startTarget('record')
    const proxy = await startProxy(target)
    proxy.halfOpen({ scope: 'new' })
    const s = await dial(proxy.port)
    await writeAll(s, [payload(10_000)], false)
    await until(() => proxy.connections()[0]?.up.discardedBytes === 10_000, 'the bytes discarded')
    expect(target.accepted.length).toBe(0)
  })
})

describe('resets', () => {
  it('resets a connection: both peers see ECONNRESET', async () => {
    const { target, proxy, s } = await throughProxy('record')
    const clientErr = outcome(s)
    const serverErr = outcome(target.accepted[0]!)
    expect(proxy.reset({ scope: proxy.connections()[0]!.id })).toBe(1)
    expect(await clientErr).toBe('ECONNRESET')
    expect(await serverErr).toBe('ECONNRESET')
    expect(proxy.stats().connections.reset).toBe(1)
  })

  it('refuses new connections after reset("new") until heal', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target)
    proxy.reset({ scope: 'new' })
    const s = connectRaw(proxy.port)
    const err = await outcome(s)
    expect(err).toBe('ECONNRESET')
    expect(proxy.stats().connections.refused).toBe(1)
    proxy.heal()
    const t = await dial(proxy.port)
    await echoes(t, payload(10))
  })
})
