// The client layer in memory: a relay with no TCP port, clients on in-process sockets. The
// handshake, a client's ERROR, request ids pending per connection, per-client limits, a slow
// subscriber's own queue at the relay, stall and handshake deadlines (with a ManualClock).
import { afterEach, describe, expect, it } from 'vitest'
import { connect } from '@herald/client'
import { ErrorCode, FrameType, Role, encodeFrame, type Frame } from '@herald/wire'
import { ManualClock, MemoryNetwork, createRelay, type Relay, type RelayLimits } from '../src/index.js'
import { RawClient } from './support/raw-client.js'
import { advance, turns, until } from './support/memory-relays.js'

let relay: Relay | undefined
let clock: ManualClock
afterEach(async () => {
  void relay?.stop()
  await advance(clock, 5000)
  relay = undefined
})

async function start(limits: Partial<RelayLimits> = {}, log: (m: string) => void = () => {}): Promise<Relay> {
  clock = new ManualClock()
  relay = createRelay({ port: false, log, limits }, { overlay: new MemoryNetwork().node('solo'), clock })
  await relay.start()
  return relay
}

const ack = (c: RawClient): Array<[number, number]> => c.take(FrameType.ack).map((a) => [a.seq, a.code])

describe('clients: the handshake', () => {
  it('HELLO first, or ERROR(protocol) and the connection closes; a wrong version gets ERROR(version)', async () => {
    const r = await start()
    const bad = new RawClient(r.connectInProcess())
    bad.send({ type: FrameType.ping, token: 1 })
    await until(() => bad.closed, 'the relay to close')
    expect(bad.take(FrameType.error).map((e) => e.code)).toEqual([ErrorCode.protocol])
    const old = new RawClient(r.connectInProcess())
    old.send({ type: FrameType.hello, version: 99, role: Role.client })
    await until(() => old.closed, 'the relay to close')
    expect(old.take(FrameType.error).map((e) => e.code)).toEqual([ErrorCode.version])
    const good = await RawClient.open(r)
    await until(() => good.frames.length > 0, 'WELCOME')
    expect(good.take(FrameType.welcome)[0]).toMatchObject({ version: 1, nodeId: r.nodeId })
    expect(r.status().protocolErrors).toBe(2)
  })

  it('a client that never says HELLO is cut after handshakeTimeoutMs; one that stalls mid-frame after stallTimeoutMs', async () => {
    const r = await start({ handshakeTimeoutMs: 5000, stallTimeoutMs: 1500, housekeepingIntervalMs: 250 })
    const silent = new RawClient(r.connectInProcess())
    const stalled = await RawClient.open(r)
    await turns()
    stalled.write(encodeFrame({ type: FrameType.ping, token: 1 }).subarray(0, 3))
    await advance(clock, 1500)
    expect(stalled.closed).toBe(false)
    await advance(clock, 500)
    expect(stalled.take(FrameType.error).map((e) => e.code)).toEqual([ErrorCode.timeout])
    expect(silent.closed).toBe(false)
    await advance(clock, 3500)
    expect(silent.take(FrameType.error).map((e) => e.code)).toEqual([ErrorCode.timeout])
  })
})

describe('clients: the client protocol', () => {
  it('a client\'s ERROR is its goodbye: the relay closes the connection without answering, and logs it', async () => {
    const logs: string[] = []
    const r = await start({}, (m) => logs.push(m))
    const c = await RawClient.open(r)
    await until(() => c.frames.length > 0, 'WELCOME')
    c.take(FrameType.welcome)
    c.send({ type: FrameType.error, code: ErrorCode.protocol, message: 'cannot decode your frames' })
    await until(() => c.closed, 'the relay to close')
    expect(c.frames).toEqual([])
    expect(logs.filter((l) => l.includes('cannot decode your frames'))).toHaveLength(1)
  })

  it('a REQUEST whose id is pending on the connection gets FAILURE(invalid) and reaches no member; the first is answered once; then the id is free again', async () => {
    const r = await start()
    const member = await RawClient.open(r, Role.member)
    member.send({ type: FrameType.register, seq: 1, cluster: 'db', requestConcurrency: 8, requestMemory: 1 << 20, broadcastConcurrency: 1, broadcastMemory: 1 << 20 })
    const c = await RawClient.open(r)
    const request = (payload: string): Frame => ({ type: FrameType.request, id: 7, timeoutMs: 60_000, cluster: 'db', payload: Buffer.from(payload) })
    await until(() => member.take(FrameType.ack).length === 1 && c.frames.length === 1, 'the registration and the handshake')
    expect([...member.take(FrameType.welcome), ...c.take(FrameType.welcome)]).toHaveLength(2)
    c.send(request('first'), request('second'))
    await until(() => c.frames.length >= 1 && member.frames.length >= 1, 'the refusal and the request at the member')
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[7, ErrorCode.invalid]])
    const held = member.take(FrameType.request)
    expect(held.map((f) => Buffer.from(f.payload).toString())).toEqual(['first'])
    member.send({ type: FrameType.reply, id: held[0]!.id, payload: Buffer.from('one') })
    c.send(request('third')) // id 7 is free once its answer is sent
    await until(() => member.frames.length >= 1, 'the third request at the member')
    const third = member.take(FrameType.request)
    expect(third.map((f) => Buffer.from(f.payload).toString())).toEqual(['third'])
    member.send({ type: FrameType.reply, id: third[0]!.id, payload: Buffer.from('two') })
    await until(() => c.frames.length >= 2, 'both replies')
    await turns()
    expect(c.take(FrameType.reply).map((f) => [f.id, Buffer.from(f.payload).toString()])).toEqual([[7, 'one'], [7, 'two']])
    expect(c.frames).toEqual([])
  })
})

describe('clients: per-client limits', () => {
  it('subscriptions, registrations, pending requests and tunnels each stop at their limit, per connection', async () => {
    const r = await start({ maxSubscriptionsPerClient: 2, maxRegistrationsPerClient: 1, maxPendingRequestsPerClient: 2, maxTunnelsPerClient: 1 })
    const server = await RawClient.open(r, Role.member)
    const reg = (seq: number, cluster: string): Frame => ({ type: FrameType.register, seq, cluster, requestConcurrency: 1, requestMemory: 1 << 20, broadcastConcurrency: 1, broadcastMemory: 1 << 20 })
    server.send(reg(1, 'slow'), reg(2, 'other'), reg(3, 'slow'))
    const c = await RawClient.open(r, Role.member)
    const sub = (seq: number, topic: string): Frame => ({ type: FrameType.subscribe, seq, topic, memoryLimit: 1024 })
    c.send(sub(1, 'a'), sub(2, 'b'), sub(3, 'a'), sub(4, 'c'))
    const request = (id: number): Frame => ({ type: FrameType.request, id, timeoutMs: 60_000, cluster: 'slow', payload: new Uint8Array(1) })
    c.send(request(1), request(2), request(3), { type: FrameType.request, id: 4, timeoutMs: 60_000, cluster: '$herald.status', payload: new Uint8Array(0) })
    c.send({ type: FrameType.tunnelOpen, tunnel: 1, timeoutMs: 60_000, cluster: 'slow' }, { type: FrameType.tunnelOpen, tunnel: 2, timeoutMs: 60_000, cluster: 'slow' })
    await until(() => c.frames.length >= 7 && server.frames.length >= 4, 'the answers')
    // Registrations: one; a second cluster is refused, the same one again is "already a member".
    expect(ack(server)).toEqual([[1, ErrorCode.ok], [2, ErrorCode.limit], [3, ErrorCode.invalid]])
    // Subscriptions: two topics; the same topic again is fine, a third topic is not.
    expect(ack(c)).toEqual([[1, ErrorCode.ok], [2, ErrorCode.ok], [3, ErrorCode.ok], [4, ErrorCode.limit]])
    // Requests: two pending at the member's relay; the third refused; the relay's own status is always answered.
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[3, ErrorCode.limit]])
    expect(c.take(FrameType.reply).map((f) => f.id)).toEqual([4])
    expect(c.take(FrameType.tunnelClose).map((f) => [f.tunnel, f.code])).toEqual([[2, ErrorCode.limit]])
  })
})

describe('clients: a slow subscriber', () => {
  /** Waits for `pred`, running the clock (a publisher held off for a lagging subscriber resumes on it). */
  async function running(pred: () => boolean, what: string): Promise<void> {
    for (let i = 0; i < 4000; i++) {
      if (pred()) return
      await advance(clock, 5, 5)
    }
    throw new Error(`never happened: ${what}`)
  }
  const seq = (e: Uint8Array): number => new DataView(e.buffer, e.byteOffset).getUint32(0)

  it('one that stops reading loses its own events at the relay (past its memory), counted and reported; a fast one loses none', async () => {
    const r = await start({ clientHighWaterBytes: 16 * 1024 })
    const slowSocket = r.connectInProcess()
    const slow = await connect({ socket: slowSocket })
    const fast = await connect({ socket: r.connectInProcess() })
    const pub = await connect({ socket: r.connectInProcess() })
    const slowGot: number[] = []
    const fastGot: number[] = []
    const slowSub = await slow.subscribe('t', { handleEvent: (e) => { slowGot.push(seq(e)) } }, { memory: 64 * 1024 })
    await fast.subscribe('t', { handleEvent: (e) => { fastGot.push(seq(e)) } })
    slowSocket.pause() // the slow client reads nothing from now on
    const n = 500
    const payload = new Uint8Array(1024)
    const publishing = (async () => {
      for (let i = 0; i < n; i++) {
        new DataView(payload.buffer).setUint32(0, i)
        await pub.publish('t', payload)
      }
    })()
    await running(() => fastGot.length === n, 'the fast subscriber to get everything')
    await publishing
    expect(fastGot).toEqual(Array.from({ length: n }, (_, i) => i))
    const topic = r.status().topics.find((t) => t.name === 't')!
    expect(topic.dropped).toBeGreaterThan(0)
    slowSocket.resume()
    await running(() => slowSub.stats().dropped > 0 && slowGot.length + slowSub.stats().dropped === n, 'the slow one to account for every event')
    expect(slowSub.stats().dropped).toBe(topic.dropped) // the relay reported exactly what it dropped
    for (let i = 1; i < slowGot.length; i++) expect(slowGot[i]!).toBeGreaterThan(slowGot[i - 1]!)
    await Promise.all([slow.close(), fast.close(), pub.close()])
  })

  it('one that falls behind holds its publisher off (a bounded stall per read) instead of growing its queue; nothing is lost', async () => {
    const r = await start({ clientHighWaterBytes: 16 * 1024 })
    const subSocket = r.connectInProcess()
    const sub = await connect({ socket: subSocket })
    const pub = await connect({ socket: r.connectInProcess() })
    const got: number[] = []
    const s = await sub.subscribe('t', { handleEvent: (e) => { got.push(seq(e)) } }, { memory: 16 * 1024 * 1024 })
    subSocket.pause() // behind: it reads nothing for now
    const n = 4000 // 4 MiB of events: a quarter of the subscription's memory
    const payload = new Uint8Array(1024)
    const publishing = (async () => {
      for (let i = 0; i < n; i++) {
        new DataView(payload.buffer).setUint32(0, i)
        await pub.publish('t', payload)
      }
    })()
    // The clock stands still: a stall, once begun, does not end. The relay reads the publisher
    // until 1 MiB waits for the subscriber (plus a read or so), then holds it off.
    await turns(2000)
    const readAt = r.status().counters.published
    expect(r.status().counters.publisherStalls).toBeGreaterThan(0)
    expect(readAt).toBeGreaterThan(1000)
    expect(readAt).toBeLessThan(1500)
    // Stalls end on the clock, each after a few ms: the publisher crawls while the subscriber
    // is behind, and everything arrives once it reads.
    subSocket.resume()
    await running(() => got.length === n, 'every event to arrive')
    await publishing
    expect(got).toEqual(Array.from({ length: n }, (_, i) => i))
    expect(s.stats().dropped).toBe(0)
    await Promise.all([sub.close(), pub.close()])
  })
})
