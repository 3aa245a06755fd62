// One suite, every implementation of the overlay port (as js-libp2p tests its interfaces):
// the in-memory overlay and the libp2p one (two hosts in this process, real TCP on loopback)
// must behave alike, since the relay cannot tell which it runs on.
import { afterEach, describe, expect, it } from 'vitest'
import { MemoryNetwork, libp2pOverlay, type ByteStream, type ByteStreamEvents, type Overlay } from '../src/index.js'
import { until } from './support/memory-relays.js'

interface Recorder {
  overlay: Overlay
  connected: string[]
  disconnected: string[]
  inbound: ByteStream[]
}

async function started(overlay: Overlay): Promise<Recorder> {
  const r: Recorder = { overlay, connected: [], disconnected: [], inbound: [] }
  await overlay.start({
    connected: (p) => r.connected.push(p),
    disconnected: (p) => r.disconnected.push(p),
    inbound: (s) => r.inbound.push(s),
  })
  return r
}

/** Attaches to a stream and records what it hears. */
function listen(s: ByteStream) {
  const rec = { chunks: [] as Uint8Array[], drains: 0, remoteClosed: false, closed: false, error: undefined as Error | undefined }
  const events: ByteStreamEvents = {
    message: (b) => { rec.chunks.push(b.slice()) },
    drain: () => { rec.drains++ },
    remoteClose: () => { rec.remoteClosed = true },
    close: (err) => { rec.closed = true; rec.error = err },
  }
  s.attach(events)
  return { ...rec, get state() { return rec }, bytes: () => Buffer.concat(rec.chunks) }
}

const implementations: Record<string, () => Promise<[Overlay, Overlay]>> = {
  memory: async () => {
    const net = new MemoryNetwork({ highWaterBytes: 64 * 1024 })
    return [net.node('a'), net.node('b')]
  },
  libp2p: async () => [await libp2pOverlay({ dht: true, log: () => {} }), await libp2pOverlay({ dht: true, log: () => {} })],
}

describe.each(Object.keys(implementations))('overlay port: %s', (name) => {
  let a: Recorder
  let b: Recorder
  afterEach(async () => {
    await a?.overlay.stop()
    await b?.overlay.stop()
  })

  async function pair(): Promise<void> {
    const [x, y] = await implementations[name]!()
    a = await started(x)
    b = await started(y)
    await a.overlay.dial(b.overlay.nodeId, b.overlay.addrs())
    await until(() => a.connected.includes(b.overlay.nodeId) && b.connected.includes(a.overlay.nodeId), 'both ends to see the connection', 100_000)
  }

  it('dialling connects both ends; addresses end in /p2p/<node id>', async () => {
    await pair()
    expect(a.overlay.isConnected(b.overlay.nodeId)).toBe(true)
    expect(b.overlay.isConnected(a.overlay.nodeId)).toBe(true)
    for (const addr of b.overlay.addrs()) expect(addr.endsWith(`/p2p/${b.overlay.nodeId}`)).toBe(true)
  })

  it.each(['link', 'tunnel'] as const)('a %s stream carries bytes both ways, in order, intact, with back-pressure', async (kind) => {
    await pair()
    const out = await a.overlay.openStream(b.overlay.nodeId, kind)
    const mine = listen(out)
    await until(() => b.inbound.length === 1, 'the inbound stream', 100_000)
    const theirs = b.inbound[0]!
    expect([theirs.kind, theirs.remotePeer, out.remotePeer]).toEqual([kind, a.overlay.nodeId, b.overlay.nodeId])
    const got = listen(theirs)
    const data = Buffer.alloc(8 * 1024 * 1024)
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i)
    let backedUp = false
    for (let i = 0; i < data.length; i += 64 * 1024) {
      if (!out.send(data.subarray(i, i + 64 * 1024))) {
        backedUp = true
        const drains = mine.state.drains
        await until(() => mine.state.drains > drains, 'drain', 100_000)
      }
    }
    await until(() => got.bytes().length === data.length, 'every byte', 100_000)
    expect(got.bytes().equals(data)).toBe(true)
    expect(backedUp).toBe(true) // 8 MiB at once is more than either implementation buffers
    theirs.send(Buffer.from('and back'))
    await until(() => mine.bytes().toString() === 'and back', 'the answer', 100_000)
  })

  it('close() ends one direction: the other end hears remoteClose, can still send, and both close when it closes too', async () => {
    await pair()
    const out = await a.overlay.openStream(b.overlay.nodeId, 'link')
    const mine = listen(out)
    await until(() => b.inbound.length === 1, 'the inbound stream', 100_000)
    const got = listen(b.inbound[0]!)
    out.send(Buffer.from('last'))
    await out.close()
    await until(() => got.state.remoteClosed, 'remoteClose', 100_000)
    expect(got.bytes().toString()).toBe('last')
    expect(() => out.send(Buffer.from('x'))).toThrow()
    b.inbound[0]!.send(Buffer.from('reply'))
    await b.inbound[0]!.close()
    await until(() => mine.state.closed && got.state.closed, 'both ends to close', 100_000)
    expect(mine.bytes().toString()).toBe('reply')
  })

  it('abort() drops the stream at once; the other end closes with an error', async () => {
    await pair()
    const out = await a.overlay.openStream(b.overlay.nodeId, 'tunnel')
    listen(out)
    await until(() => b.inbound.length === 1, 'the inbound stream', 100_000)
    const got = listen(b.inbound[0]!)
    out.abort(new Error('bye'))
    await until(() => got.state.closed, 'the other end to close', 100_000)
    expect(got.state.error).toBeInstanceOf(Error)
  })

  it('hangUp() disconnects both ends and closes the streams on the connection', async () => {
    await pair()
    const out = await a.overlay.openStream(b.overlay.nodeId, 'link')
    const mine = listen(out)
    await a.overlay.hangUp(b.overlay.nodeId)
    await until(() => a.disconnected.includes(b.overlay.nodeId) && b.disconnected.includes(a.overlay.nodeId), 'both ends to disconnect', 100_000)
    await until(() => mine.state.closed, 'the stream to close', 100_000)
    expect(a.overlay.isConnected(b.overlay.nodeId)).toBe(false)
  })

  it('a relay that provides a cluster is found by findProviders', async () => {
    await pair()
    b.overlay.provide!('databases')
    let found: string[] = []
    for (let i = 0; i < 30 && !found.includes(b.overlay.nodeId); i++) {
      found = (await a.overlay.findProviders!('databases', 500)).map((p) => p.id)
    }
    expect(found).toContain(b.overlay.nodeId)
    expect(await a.overlay.findProviders!('nobody-serves-this', 200)).toEqual([])
  })
})
