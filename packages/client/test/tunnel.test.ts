// Tunnel flow control in the SDK: a message costs its size plus 64 bytes of allowance; a
// sender waits while the allowance is used up (overshooting by at most one message); a reader
// grants back what it consumed, a quarter window at a time.
import { describe, expect, it } from 'vitest'
import { ErrorCode, FrameType, TUNNEL_MESSAGE_COST, type Frame } from '@herald/wire'
import { ClosedError, TimeoutError, Tunnel } from '../src/index.js'
import type { TunnelOwner } from '../src/tunnel.js'
import { turn } from './fake-relay.js'

/** The connection side of a tunnel, recording what it sends. */
function owner(): TunnelOwner & { sent: Frame[]; data: Uint8Array[] } {
  const sent: Frame[] = []
  const data: Uint8Array[] = []
  return {
    sent, data, maxMessageBytes: 1 << 20,
    sendFrame: (f) => { sent.push(f) },
    sendIdPayload: (_type, _id, payload) => { data.push(payload) },
    forgetTunnel: () => {},
  }
}

const WINDOW = 1000

describe('tunnel credit', () => {
  it('sends while there is allowance, may overshoot by one message, then waits for a grant', async () => {
    const o = owner()
    const t = new Tunnel({ id: 1, owner: o, window: WINDOW })
    t.grant(300)
    await t.send(new Uint8Array(100)) // 300 - 164 = 136 left
    await t.send(new Uint8Array(100)) // 136 - 164 = -28: allowed (allowance was positive)
    let third = false
    const p = t.send(new Uint8Array(100)).then(() => { third = true })
    await turn()
    expect(o.data).toHaveLength(2)
    expect(third).toBe(false)
    t.grant(28) // back to 0: still nothing to spend
    await turn()
    expect(third).toBe(false)
    t.grant(1)
    await p
    expect(o.data).toHaveLength(3)
  })

  it('queued sends go out in order as grants arrive', async () => {
    const o = owner()
    const t = new Tunnel({ id: 1, owner: o, window: WINDOW })
    const sends = [1, 2, 3].map((n) => t.send(new Uint8Array([n])))
    await turn()
    expect(o.data).toHaveLength(0)
    t.grant(1)
    await sends[0]
    expect(o.data.map((d) => d[0])).toEqual([1])
    t.grant(2 * (1 + TUNNEL_MESSAGE_COST))
    await Promise.all(sends)
    expect(o.data.map((d) => d[0])).toEqual([1, 2, 3])
  })

  it('a send that waits past its timeout fails and is never sent', async () => {
    const o = owner()
    const t = new Tunnel({ id: 1, owner: o, window: WINDOW })
    await expect(t.send('late', { timeoutMs: 10 })).rejects.toBeInstanceOf(TimeoutError)
    t.grant(1000)
    await turn()
    expect(o.data).toHaveLength(0)
  })

  it('the reader grants back what it consumed (cost included) once a quarter of the window is used', async () => {
    const o = owner()
    const t = new Tunnel({ id: 5, owner: o, window: WINDOW })
    for (let i = 0; i < 4; i++) t.deliver(new Uint8Array(36)) // 100 of allowance each
    expect(o.sent).toEqual([])
    await t.receive()
    await t.receive()
    expect(o.sent).toEqual([]) // 200 < 250
    await t.receive() // 300 >= 250
    expect(o.sent).toEqual([{ type: FrameType.tunnelAllowance, tunnel: 5, bytes: 300 }])
  })

  it('after the other end closes, what arrived is still read, then the tunnel is done', async () => {
    const o = owner()
    const t = new Tunnel({ id: 1, owner: o, window: WINDOW })
    t.deliver(new TextEncoder().encode('last words'))
    t.remoteClose(ErrorCode.ok, '')
    expect(new TextDecoder().decode(await t.receive())).toBe('last words')
    expect((await t.next()).done).toBe(true)
    await expect(t.send('x')).rejects.toBeInstanceOf(ClosedError)
  })

  it('close() tells the other end and fails senders still waiting', async () => {
    const o = owner()
    const t = new Tunnel({ id: 3, owner: o, window: WINDOW })
    const waiting = t.send('x').catch((e: unknown) => e)
    await t.close()
    expect(await waiting).toBeInstanceOf(ClosedError)
    expect(o.sent).toEqual([{ type: FrameType.tunnelClose, tunnel: 3, code: ErrorCode.ok, reason: '' }])
  })
})
