// The router alone, in memory: test endpoints stand for clients, members and other relays,
// a ManualClock for time, a fake RemoteNodes for the directory. Load balancing, queueing at
// the relay, member loss, deadlines, kinds of endpoints, fan-out, tunnels and their credit.
// What the router refuses (payloads too large for the receiver, zero limits and deadlines):
// router-refusals.test.ts.
import { describe, expect, it } from 'vitest'
import { ErrorCode, FrameType, SERVED_TUNNEL_BASE, STREAM_TUNNEL_ID, TUNNEL_MESSAGE_COST, encodeFrame, type Frame } from '@herald/wire'
import { DEFAULT_LIMITS } from '../src/index.js'
import { SENT, type RemoteNodes } from '../src/directory/remote-index.js'
import { TestClient, TestPeer, bytes, req, text } from './support/endpoints.js'
import { answerAll, setup } from './support/router.js'

/** A fake directory: which relays serve what, and what was sent to them. */
function remoteNodes(clusters: Record<string, Array<{ node: string; members: number }>>, topics: Record<string, string[]> = {}) {
  const sent: Array<{ node: string; frame: Frame | Uint8Array }> = []
  const remote: RemoteNodes = {
    clusterNodes: (c) => clusters[c] ?? [],
    topicNodes: (t) => topics[t] ?? [],
    send: (node, frame) => { sent.push({ node, frame }); return true },
    sendDroppable: (node, frame) => { sent.push({ node, frame }); return SENT },
    whenWritable: (resume) => resume(),
    openTunnel: () => { throw new Error('no tunnels in this test') },
  }
  return { remote, sent }
}

describe('router: requests', () => {
  it('go to the member with the fewest outstanding, ties rotating: 30 requests spread 10/10/10', () => {
    const { router, attach, member } = setup()
    const ms = ['a', 'b', 'c'].map((n) => member(n, 'db'))
    const c = attach(new TestClient())
    for (let i = 0; i < 30; i++) router.request(c, req(i + 1, 'db', `r${i}`))
    expect(ms.map((m) => m.frames.length)).toEqual([10, 10, 10])
    expect(ms.reduce((s, m) => s + answerAll(router, m), 0)).toBe(30)
    const replies = c.take(FrameType.reply)
    expect(replies.map((r) => r.id).sort((x, y) => x - y)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    for (const r of replies) expect(text(r.payload)).toBe(`r${r.id - 1}`)
  })

  it('wait at the relay while every member is at its requestConcurrency, and go out in arrival order', () => {
    const { router, attach, member } = setup()
    const m = member('m', 'db', { requestConcurrency: 2 })
    const c = attach(new TestClient())
    for (let i = 1; i <= 5; i++) router.request(c, req(i, 'db', `r${i}`))
    expect(m.frames.map((f) => text((f as { payload: Uint8Array }).payload))).toEqual(['r1', 'r2'])
    expect(router.snapshot().clusters).toEqual([{ name: 'db', members: 1, outstanding: 2, queued: 3 }])
    const [first, second] = m.take(FrameType.request)
    router.memberAnswer(m, first!.id, { payload: bytes('ok') })
    expect(m.frames.map((f) => text((f as { payload: Uint8Array }).payload))).toEqual(['r3'])
    router.memberAnswer(m, second!.id, { payload: bytes('ok') })
    while (answerAll(router, m) > 0) { /* the rest of the queue, through the member */ }
    expect(c.take(FrameType.reply).map((r) => r.id)).toEqual([1, 2, 3, 4, 5])
    expect(router.snapshot().clusters[0]).toMatchObject({ outstanding: 0, queued: 0 })
  })

  it('past maxQueuedRequestsPerCluster (or its bytes), a request fails with overloaded', () => {
    const { router, attach, member } = setup({ limits: { ...DEFAULT_LIMITS, maxQueuedRequestsPerCluster: 2, maxQueuedRequestBytesPerCluster: 10 } })
    member('m', 'db', { requestConcurrency: 1 })
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'at the member'))
    router.request(c, req(2, 'db', 'q1'))
    router.request(c, req(3, 'db', 'q2'))
    router.request(c, req(4, 'db', 'q3'))
    router.request(c, req(5, 'db', 'x'.repeat(11)))
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[4, ErrorCode.overloaded], [5, ErrorCode.overloaded]])
  })

  it('a member lost fails what it holds with memberLost at once; with no member left, what waits fails with noMembers', () => {
    const { router, attach, member } = setup()
    const a = member('a', 'db', { requestConcurrency: 1 })
    const b = member('b', 'db', { requestConcurrency: 1 })
    const c = attach(new TestClient())
    for (let i = 1; i <= 4; i++) router.request(c, req(i, 'db', `r${i}`))
    router.detach(a, 'gone')
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.memberLost]])
    router.detach(b, 'gone')
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[2, ErrorCode.memberLost], [3, ErrorCode.noMembers], [4, ErrorCode.noMembers]])
    router.request(c, req(5, 'db', 'r5'))
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[5, ErrorCode.noMembers]])
    expect(router.counters).toMatchObject({ membersLost: 2, noMembers: 3 })
  })

  it('a member that unregisters gets no new requests but still answers those it holds', () => {
    const { router, attach, member } = setup()
    const a = member('a', 'db')
    const b = member('b', 'db')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'r1')) // goes to a
    expect(a.frames).toHaveLength(1)
    expect(router.unregister(a, 'db').code).toBe(ErrorCode.ok)
    router.request(c, req(2, 'db', 'r2'))
    router.request(c, req(3, 'db', 'r3'))
    expect(a.frames).toHaveLength(1)
    expect(b.frames).toHaveLength(2)
    answerAll(router, a)
    answerAll(router, b)
    expect(c.take(FrameType.reply).map((r) => r.id).sort()).toEqual([1, 2, 3])
  })

  it('time out at their deadline, which frees the member slot at once: the next waiting request goes out, the late answer is discarded', () => {
    const { clock, router, attach, member } = setup()
    const m = member('m', 'db', { requestConcurrency: 1 })
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'held', 1000))
    router.request(c, req(2, 'db', 'waits', 500))
    router.request(c, req(3, 'db', 'next', 60_000))
    clock.advance(499)
    expect(c.frames).toEqual([])
    clock.advance(1)
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[2, ErrorCode.timeout]])
    const [held] = m.take(FrameType.request)
    expect(m.frames).toEqual([]) // request 3 still waits: the member holds 1
    clock.advance(500)
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.timeout]])
    // Request 1's deadline freed the slot: request 3 went to the member at once.
    const next = m.take(FrameType.request)
    expect(next.map((f) => text(f.payload))).toEqual(['next'])
    expect(router.snapshot().clusters).toEqual([{ name: 'db', members: 1, outstanding: 1, queued: 0 }])
    expect(router.memberAnswer(m, held!.id, { payload: bytes('late') })).toBe(false)
    expect(c.frames).toEqual([]) // the late answer to 1 is discarded
    expect(router.memberAnswer(m, next[0]!.id, { payload: next[0]!.payload })).toBe(true)
    expect(c.take(FrameType.reply).map((r) => [r.id, text(r.payload)])).toEqual([[3, 'next']])
    expect(router.counters.timeouts).toBe(2)
    expect(router.snapshot().inflight).toBe(0)
  })

  it('a request whose client left holds the member slot until its deadline, not until an answer that may never come', () => {
    const { clock, router, attach, member } = setup()
    const m = member('m', 'db', { requestConcurrency: 1 })
    const gone = attach(new TestClient('gone'))
    router.request(gone, req(1, 'db', 'orphan', 1000))
    router.detach(gone, 'left')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'waits', 60_000))
    expect(m.take(FrameType.request).map((f) => text(f.payload))).toEqual(['orphan'])
    clock.advance(999)
    expect(m.frames).toEqual([])
    clock.advance(1)
    expect(m.take(FrameType.request).map((f) => text(f.payload))).toEqual(['waits'])
    expect(router.counters.timeouts).toBe(0) // nobody was left to tell
  })

  it('a member cannot answer a request it was not given', () => {
    const { router, attach, member } = setup()
    const a = member('a', 'db')
    const b = member('b', 'db')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'r1'))
    const [holder, other] = a.frames.length > 0 ? [a, b] : [b, a]
    const [held] = holder.take(FrameType.request)
    expect(router.memberAnswer(other, held!.id, { payload: bytes('forged') })).toBe(false)
    expect(c.take(FrameType.reply)).toEqual([])
    expect(router.memberAnswer(holder, held!.id, { payload: bytes('real') })).toBe(true)
    expect(c.take(FrameType.reply).map((r) => text(r.payload))).toEqual(['real'])
  })
})

describe('router: kinds of endpoints and other relays', () => {
  it('another relay wins a request only when its members are less loaded; ties stay here', () => {
    const { remote, sent } = remoteNodes({ db: [{ node: 'B', members: 2 }] })
    const { router, attach, member } = setup({ remote })
    const m = member('m', 'db')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'r1')) // local 0 vs B 0/2: a tie, local
    router.request(c, req(2, 'db', 'r2')) // local 1 vs B 0: B
    router.request(c, req(3, 'db', 'r3')) // local 1 vs B 1/2: B
    router.request(c, req(4, 'db', 'r4')) // local 1 vs B 2/2: tie, local
    expect(m.frames).toHaveLength(2)
    expect(sent.map((s) => s.node)).toEqual(['B', 'B'])
  })

  it('a request from another relay (a peer) is served by local members only, never sent on', () => {
    const { remote, sent } = remoteNodes({ db: [{ node: 'B', members: 5 }] })
    const { router, attach } = setup({ remote })
    const peer = attach(new TestPeer())
    router.request(peer, req(1, 'db', 'x'))
    expect(sent).toEqual([])
    expect(peer.take(FrameType.failure).map((f) => f.code)).toEqual([ErrorCode.noMembers])
  })

  it('an answer from another relay reaches the client; losing that relay fails what it held', () => {
    const { remote, sent } = remoteNodes({ db: [{ node: 'B', members: 1 }] })
    const { router, attach } = setup({ remote })
    const c = attach(new TestClient())
    router.request(c, req(7, 'db', 'a'))
    router.request(c, req(8, 'db', 'b'))
    const [first, second] = sent.map((s) => s.frame as Extract<Frame, { type: typeof FrameType.request }>)
    router.remoteAnswer('B', first!.id, { payload: bytes('from B') })
    router.remoteAnswer('C', second!.id, { payload: bytes('not from the relay it went to') })
    router.remoteLost('B')
    expect(c.take(FrameType.reply).map((r) => [r.id, text(r.payload)])).toEqual([[7, 'from B']])
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[8, ErrorCode.memberLost]])
  })
})

describe('router: broadcast and publish/subscribe', () => {
  it('an event reaches every subscriber as the very same bytes; a full outlet drops and counts, nobody else notices', () => {
    const { router, attach } = setup()
    const subs = [1, 2, 3].map((i) => attach(new TestClient(`s${i}`)))
    for (const s of subs) router.subscribe(s, 'news', 1 << 20)
    subs[1]!.outlets[0]!.full = true
    const frame = encodeFrame({ type: FrameType.event, topic: 'news', payload: bytes('hi') })
    for (let i = 0; i < 3; i++) router.publish(subs[0]!, 'news', frame)
    expect(subs[0]!.outlets[0]!.received).toEqual([frame, frame, frame])
    for (const f of subs[2]!.outlets[0]!.received) expect(f).toBe(frame) // fanned out, not copied
    expect(subs[1]!.outlets[0]!.dropped).toBe(3)
    expect(router.counters).toMatchObject({ published: 3, delivered: 6, dropped: 3 })
    expect(router.snapshot().topics).toEqual([{ name: 'news', subscribers: 3, dropped: 3 }])
  })

  it('subscriptions are counted per connection; the last unsubscribe removes it', () => {
    const { router, attach } = setup()
    const s = attach(new TestClient())
    router.subscribe(s, 't', 100)
    router.subscribe(s, 't', 100)
    expect(s.outlets).toHaveLength(1)
    expect(router.unsubscribe(s, 't').code).toBe(ErrorCode.ok)
    expect(router.localSummary().topics).toEqual(['t'])
    expect(router.unsubscribe(s, 't').code).toBe(ErrorCode.ok)
    expect(router.localSummary().topics).toEqual([])
    expect(s.outlets[0]!.closed).toBe(true)
    expect(router.unsubscribe(s, 't').code).toBe(ErrorCode.invalid)
  })

  it('a local publish also goes to relays with subscribers; what a peer forwards does not go on', () => {
    const { remote, sent } = remoteNodes({}, { news: ['B', 'C'] })
    const { router, attach } = setup({ remote })
    const c = attach(new TestClient())
    const peer = attach(new TestPeer())
    const frame = encodeFrame({ type: FrameType.event, topic: 'news', payload: bytes('x') })
    router.publish(c, 'news', frame)
    router.publish(peer, 'news', frame)
    expect(sent.map((s) => s.node)).toEqual(['B', 'C'])
    for (const s of sent) expect(s.frame).toBe(frame)
  })

  it('a broadcast reaches each local member once and each relay with members once', () => {
    const { remote, sent } = remoteNodes({ db: [{ node: 'B', members: 3 }] })
    const { router, member } = setup({ remote })
    const ms = [member('a', 'db'), member('b', 'db')]
    const frame = encodeFrame({ type: FrameType.broadcast, cluster: 'db', payload: bytes('all') })
    router.broadcast(ms[0]!, 'db', frame)
    for (const m of ms) expect(m.outlets[0]!.received).toEqual([frame])
    expect(sent.map((s) => s.node)).toEqual(['B'])
  })
})

describe('router: tunnels', () => {
  function open() {
    const s = setup()
    const m = s.member('m', 'tn')
    const c = s.attach(new TestClient())
    s.router.openTunnel(c, { tunnel: 5, timeoutMs: 1000, cluster: 'tn' })
    const [o] = m.take(FrameType.tunnelOpen)
    return { ...s, m, c, served: o!.tunnel }
  }

  it('numbers the tunnels it hands to members from 2^31, refuses opener ids there, and translates ids both ways', () => {
    const { router, m, c, served } = open()
    expect(served).toBeGreaterThanOrEqual(SERVED_TUNNEL_BASE)
    router.openTunnel(c, { tunnel: SERVED_TUNNEL_BASE, timeoutMs: 1000, cluster: 'tn' })
    expect(c.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.invalid])
    router.tunnelAccept(m, served, 1000)
    expect(c.take(FrameType.tunnelAccept)).toEqual([{ type: FrameType.tunnelAccept, tunnel: 5, allowance: 1000 }])
    router.tunnelAllowance(c, 5, 500)
    expect(m.take(FrameType.tunnelAllowance)).toEqual([{ type: FrameType.tunnelAllowance, tunnel: served, bytes: 500 }])
    router.tunnelData(c, 5, bytes('to the member'))
    router.tunnelData(m, served, bytes('to the client'))
    expect(m.take(FrameType.tunnelData).map((f) => [f.tunnel, text(f.payload)])).toEqual([[served, 'to the member']])
    expect(c.take(FrameType.tunnelData).map((f) => [f.tunnel, text(f.payload)])).toEqual([[5, 'to the client']])
  })

  it('enforces credit at the relay: a sender past its allowance gets the tunnel closed with limit, both ends told', () => {
    const { router, m, c, served } = open()
    router.tunnelAccept(m, served, 100 + TUNNEL_MESSAGE_COST) // room for one 100-byte message
    expect(router.tunnelData(c, 5, new Uint8Array(100))).toBe(true)
    expect(router.tunnelData(c, 5, new Uint8Array(1))).toBe(false)
    expect(c.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.limit])
    expect(m.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.limit])
    expect(router.tunnelData(c, 5, new Uint8Array(1))).toBe(true) // late data after the close is dropped
    expect(m.take(FrameType.tunnelData)).toHaveLength(1)
  })

  it('data before the member accepted breaks flow control', () => {
    const { router, m, c } = open()
    expect(router.tunnelData(c, 5, new Uint8Array(1))).toBe(false)
    expect(m.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.limit])
  })

  it('a member that does not accept within the deadline: the opener gets timeout', () => {
    const { clock, m, c } = open()
    clock.advance(999)
    expect(c.frames).toEqual([])
    clock.advance(1)
    expect(c.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.timeout])
    expect(m.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.timeout])
  })

  it('when one end goes away the other end is told: memberLost for the opener, closed for the member', () => {
    const a = open()
    a.router.tunnelAccept(a.m, a.served, 1000)
    a.router.detach(a.m, 'gone')
    expect(a.c.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.memberLost])
    const b = open()
    b.router.tunnelAccept(b.m, b.served, 1000)
    b.router.detach(b.c, 'gone')
    expect(b.m.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.closed])
  })

  it('a tunnel stream from another relay (its id is always 1) reaches a local member', () => {
    const { router, attach, member } = setup()
    const m = member('m', 'tn')
    const stream = attach(new TestPeer())
    Object.defineProperty(stream, 'kind', { value: 'tunnel-stream' })
    router.openTunnel(stream, { tunnel: STREAM_TUNNEL_ID, timeoutMs: 1000, cluster: 'tn' })
    expect(m.take(FrameType.tunnelOpen)).toHaveLength(1)
  })
})

describe('router: shutdown', () => {
  it('drain() refuses new work, waits for members to answer what they hold, then fails the rest', async () => {
    const { clock, router, attach, member } = setup()
    const a = member('a', 'db', { requestConcurrency: 1 })
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'held'))
    router.request(c, req(2, 'db', 'waits'))
    let drained = false
    const draining = router.drain(2000).then(() => { drained = true })
    router.request(c, req(3, 'db', 'late'))
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[3, ErrorCode.shutdown]])
    clock.advance(1000)
    await Promise.resolve()
    expect(drained).toBe(false)
    const [held] = a.take(FrameType.request)
    router.memberAnswer(a, held!.id, { payload: bytes('done') })
    await draining
    expect(c.take(FrameType.reply).map((r) => r.id)).toEqual([1])
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[2, ErrorCode.shutdown]])
  })

  it('drain() gives up after the grace period', async () => {
    const { clock, router, attach, member } = setup()
    member('a', 'db')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'never answered'))
    const draining = router.drain(2000)
    clock.advance(2000)
    await draining
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.shutdown]])
  })
})
