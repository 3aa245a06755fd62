/**
 * Memory is bounded by what the proxy is asked to hold, and misbehaving peers are contained:
 * a flood into a partition or a reader that never reads stops the writer instead of growing
 * the proxy; a reset, a refused target or too many connections end that connection only.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { closeAll, connectRaw, outcome, throughProxy, dial, payload, readAll, sleep, startProxy, startTarget, until, writeAll } from './helpers.js'

afterAll(closeAll)

const BOUND = 256 * 1024
// One read from the socket (libuv reads up to 64 KiB) and what a paused socket may still buffer.
const SLACK = 128 * 1024

describe('memory bounded by the bound it is given', () => {
  it('a flood into a partition stops the writer at the bound, and every byte arrives after heal', async () => {
    const { target, proxy, s } = await throughProxy('record', { config: { bufferBytes: BOUND } })
    proxy.partition()
    const data = payload(16 * 1024 * 1024, 21)
    const writing = writeAll(s, [data])
    await until(() => proxy.connections()[0]!.up.pauses > 0, 'the proxy to stop reading')
    await sleep(200)
    const c = proxy.connections()[0]!
    expect(c.up.peakHeldBytes).toBeLessThanOrEqual(BOUND + SLACK)
    expect(c.up.heldBytes).toBeLessThanOrEqual(BOUND + SLACK)
    expect(c.up.bytesIn).toBeLessThan(data.length / 4)
    proxy.heal()
    await writing
    await until(() => target.received[0]!.reduce((n, b) => n + b.length, 0) === data.length, 'all 16 MiB at the target', 30_000)
    expect(Buffer.concat(target.received[0]!).equals(data)).toBe(true)
    expect(proxy.connections()[0]!.up.peakHeldBytes).toBeLessThanOrEqual(BOUND + SLACK)
  })

  it('a target that never reads throttles the writer; the proxy holds no more than its bound', async () => {
    const target = await startTarget('still')
    const proxy = await startProxy(target, { config: { bufferBytes: BOUND, latencyMs: 5 } })
    const s = await dial(proxy.port)
    void writeAll(s, [payload(32 * 1024 * 1024)]).catch(() => {})
    await until(() => (proxy.connections()[0]?.up.pauses ?? 0) > 0, 'the proxy to stop reading')
    await sleep(300)
    const c = proxy.connections()[0]!
    expect(c.up.peakHeldBytes).toBeLessThanOrEqual(BOUND + SLACK)
    // The rest waits in the writer's own buffers: it was slowed down, not buffered for.
    expect(s.writableLength).toBeGreaterThan(16 * 1024 * 1024)
  })

  it('twenty flooding connections stay within twenty bounds, and close cleans up', async () => {
    const target = await startTarget('record')
    const proxy = await startProxy(target, { config: { bufferBytes: BOUND } })
    const flood = payload(2 * 1024 * 1024)
    const clients = await Promise.all(Array.from({ length: 20 }, () => dial(proxy.port)))
    await until(() => target.accepted.length === 20, 'twenty connections')
    proxy.partition()
    for (const c of clients) void writeAll(c, [flood]).catch(() => {})
    await until(() => proxy.connections().filter((c) => c.up.pauses > 0).length === 20, 'every connection to be throttled')
    const total = proxy.stats().totals.up
    expect(total.peakHeldBytes).toBeLessThanOrEqual(BOUND + SLACK)
    expect(total.heldBytes).toBeLessThanOrEqual(20 * (BOUND + SLACK))
    expect(total.bytesIn).toBeLessThan(20 * flood.length)
    await proxy.close()
    expect(proxy.connections()).toEqual([])
    const after = connectRaw(proxy.port)
    expect(await new Promise((r) => after.once('error', (e: NodeJS.ErrnoException) => r(e.code)))).toBe('ECONNREFUSED')
  })
})

describe('misbehaving peers', () => {
  it('a client that resets mid-transfer takes its target connection down, and the proxy serves on', async () => {
    const target = await startTarget('echo')
    const proxy = await startProxy(target, { config: { latencyMs: 20 } })
    const s = await dial(proxy.port)
    s.write(payload(500_000))
    await until(() => target.accepted.length === 1, 'the connection')
    const targetClosed = new Promise<void>((r) => target.accepted[0]!.once('close', () => r()))
    s.resetAndDestroy()
    // libuv may report a reset that arrives behind unread bytes as an end: then the target
    // gets a FIN, echoes, and the write to the dead client resets it. Either way it closes.
    await targetClosed
    await until(() => proxy.connections().length === 0, 'the connection to be dropped')
    expect(proxy.stats().connections.failed).toBe(1)
    const t = await dial(proxy.port)
    const back = readAll(t)
    t.end(payload(1000, 2))
    expect((await back).equals(payload(1000, 2))).toBe(true)
  })

  it('a target reset reaches the client as a reset', async () => {
    const { target, proxy, s } = await throughProxy('record')
    const err = outcome(s)
    target.accepted[0]!.resetAndDestroy()
    expect(await err).toBe('ECONNRESET')
    await until(() => proxy.connections().length === 0, 'the connection to be dropped')
  })

  it('a target that refuses resets the client and counts a failure', async () => {
    const gone = await startTarget('echo')
    await gone.close()
    const proxy = await startProxy(gone)
    const s = connectRaw(proxy.port)
    const seen = await outcome(s)
    expect(['ECONNRESET', 'close']).toContain(seen)
    await until(() => proxy.stats().connections.failed === 1, 'the failure to be counted')
    expect(proxy.connections({ closed: true })[0]!.closeReason).toMatch(/ECONNREFUSED/)
  })

  it('refuses connections beyond maxConnections', async () => {
    const target = await startTarget('still')
    const proxy = await startProxy(target, { maxConnections: 3 })
    const ok = await Promise.all([0, 1, 2].map(() => dial(proxy.port)))
    await until(() => proxy.connections().length === 3, 'three connections')
    const extra = connectRaw(proxy.port)
    const seen = await outcome(extra)
    expect(['ECONNRESET', 'close']).toContain(seen)
    expect(proxy.stats().connections.refused).toBe(1)
    expect(ok.every((s) => !s.destroyed)).toBe(true)
  })
})
