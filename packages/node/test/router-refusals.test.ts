// What the router refuses, in memory: a payload larger than the receiving client may be
// handed (from a relay with a larger maxMessageBytes), and limits or deadlines of 0.
import { describe, expect, it } from 'vitest'
import { ErrorCode, FrameType } from '@herald/wire'
import { LIMITS, TestClient, TestPeer, bytes, req } from './support/endpoints.js'
import { answerAll, setup } from './support/router.js'

describe('router: a receiver is never handed more than its maxMessageBytes', () => {
  it('a request from another relay larger than the member may take fails there with tooLarge; at the limit it is served', () => {
    const { router, attach } = setup()
    const m = attach(new TestClient('m', 1000))
    router.register(m, 'db', LIMITS)
    const peer = attach(new TestPeer())
    router.request(peer, { id: 1, timeoutMs: 60_000, cluster: 'db', payload: new Uint8Array(1001) })
    router.request(peer, { id: 2, timeoutMs: 60_000, cluster: 'db', payload: new Uint8Array(1000) })
    expect(peer.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.tooLarge]])
    expect(m.take(FrameType.request).map((f) => f.payload.length)).toEqual([1000])
    expect(router.snapshot().clusters[0]).toMatchObject({ outstanding: 1, queued: 0 })
  })

  it('one that waited for a member slot fails with tooLarge when its turn comes, and the next one goes out', () => {
    const { router, attach } = setup()
    const m = attach(new TestClient('m', 1000))
    router.register(m, 'db', { ...LIMITS, requestConcurrency: 1 })
    const peer = attach(new TestPeer())
    router.request(peer, { id: 1, timeoutMs: 60_000, cluster: 'db', payload: new Uint8Array(10) })
    router.request(peer, { id: 2, timeoutMs: 60_000, cluster: 'db', payload: new Uint8Array(5000) })
    router.request(peer, { id: 3, timeoutMs: 60_000, cluster: 'db', payload: new Uint8Array(20) })
    expect(answerAll(router, m)).toBe(1)
    expect(peer.take(FrameType.reply).map((f) => f.id)).toEqual([1])
    expect(peer.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[2, ErrorCode.tooLarge]])
    expect(m.take(FrameType.request).map((f) => f.payload.length)).toEqual([20])
  })

  it('a reply larger than the caller may take fails the request with tooLarge', () => {
    const { router, attach, member } = setup()
    const m = member('m', 'db')
    const small = attach(new TestClient('small', 1000))
    router.request(small, req(1, 'db', 'big answer'))
    router.request(small, req(2, 'db', 'fitting answer'))
    const [first, second] = m.take(FrameType.request)
    router.memberAnswer(m, first!.id, { payload: new Uint8Array(1001) })
    router.memberAnswer(m, second!.id, { payload: new Uint8Array(1000) })
    expect(small.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.tooLarge]])
    expect(small.take(FrameType.reply).map((r) => [r.id, r.payload.length])).toEqual([[2, 1000]])
  })

  it('a tunnel message larger than the other end may take closes the tunnel with tooLarge toward both ends', () => {
    const { router, attach } = setup()
    const m = attach(new TestClient('m', 1000))
    router.register(m, 'tn', LIMITS)
    const c = attach(new TestClient())
    router.openTunnel(c, { tunnel: 5, timeoutMs: 1000, cluster: 'tn' })
    const [open] = m.take(FrameType.tunnelOpen)
    router.tunnelAccept(m, open!.tunnel, 1 << 20)
    expect(router.tunnelData(c, 5, new Uint8Array(1000))).toBe(true)
    expect(router.tunnelData(c, 5, new Uint8Array(1001))).toBe(false)
    expect(m.take(FrameType.tunnelData).map((f) => f.payload.length)).toEqual([1000])
    expect(m.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.tooLarge])
    expect(c.take(FrameType.tunnelClose).map((f) => f.code)).toEqual([ErrorCode.tooLarge])
  })
})

describe('router: a limit or a deadline of 0 is invalid', () => {
  it('a REQUEST with timeoutMs 0: FAILURE(invalid) at once, and no member (nor the relay\'s status) sees the request', () => {
    const { router, attach, member } = setup({ systemRequest: () => ({ reply: bytes('{}') }) })
    const m = member('m', 'db')
    const c = attach(new TestClient())
    router.request(c, req(1, 'db', 'now', 0))
    router.request(c, req(2, '$herald.status', '', 0))
    router.request(c, req(3, '$herald.status', '', 1))
    expect(c.take(FrameType.failure).map((f) => [f.id, f.code])).toEqual([[1, ErrorCode.invalid], [2, ErrorCode.invalid]])
    expect(c.take(FrameType.reply).map((r) => r.id)).toEqual([3])
    expect(m.frames).toEqual([])
    router.request(c, req(4, 'db', 'soon', 1))
    expect(m.take(FrameType.request).map((f) => f.timeoutMs)).toEqual([1])
  })

  it('a memoryLimit of 0 is invalid, like every limit of 0: no subscription is made', () => {
    const { router, attach } = setup()
    const s = attach(new TestClient())
    expect(router.subscribe(s, 't', 0).code).toBe(ErrorCode.invalid)
    expect(s.outlets).toEqual([])
    expect(router.localSummary().topics).toEqual([])
    expect(router.subscribe(s, 't', 1).code).toBe(ErrorCode.ok)
    expect(router.subscribe(s, 't', 0).code).toBe(ErrorCode.invalid)
    expect(router.unsubscribe(s, 't').code).toBe(ErrorCode.ok) // the 0 did not add a reference
    expect(router.localSummary().topics).toEqual([])
  })

  it('a TUNNEL_OPEN with timeoutMs 0: TUNNEL_CLOSE(invalid) at once, and no member sees the tunnel', () => {
    const { router, attach, member } = setup()
    const m = member('m', 'tn')
    const c = attach(new TestClient())
    router.openTunnel(c, { tunnel: 6, timeoutMs: 0, cluster: 'tn' })
    expect(c.take(FrameType.tunnelClose).map((f) => [f.tunnel, f.code])).toEqual([[6, ErrorCode.invalid]])
    expect(m.frames).toEqual([])
  })
})
