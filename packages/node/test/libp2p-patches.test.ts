/**
 * The yamux window-update patch (overlay/libp2p-patches.ts, patch 3) on two real yamux muxers
 * joined by libp2p's in-memory connection pair: small frames no longer draw one WINDOW_UPDATE
 * each, and a transfer many windows long still flows to the end.
 */
import '../src/polyfill.js' // Promise.withResolvers for libp2p on Node 20
import { describe, expect, it } from 'vitest'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import type { Stream } from '@libp2p/interface'
import { halfWindowUpdates } from '../src/overlay/libp2p-patches.js'

const WINDOW_UPDATE = 1 // yamux frame type

/** Two muxers; counts the window updates the receiving side sends. */
async function pair(): Promise<{ client: Stream; received: () => number; updates: () => number; arrived: (bytes: number) => Promise<void>; close: () => Promise<void> }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const clientMuxer = yamux()().createStreamMuxer(outbound)
  const serverMuxer = yamux()().createStreamMuxer(inbound)
  let updates = 0
  const muxer = serverMuxer as unknown as { sendFrame: (header: { type: number }, data?: unknown) => unknown }
  const sendFrame = muxer.sendFrame
  muxer.sendFrame = function (header, data) {
    if (header.type === WINDOW_UPDATE) updates++
    return sendFrame.call(this, header, data)
  }
  let received = 0
  const waiters: Array<{ bytes: number; resolve: () => void }> = []
  serverMuxer.addEventListener('stream', (evt) => {
    evt.detail.addEventListener('message', (msg) => {
      received += msg.data.byteLength
      for (const w of waiters.splice(0)) {
        if (received >= w.bytes) w.resolve()
        else waiters.push(w)
      }
    })
  })
  const client = await clientMuxer.createStream()
  return {
    client,
    received: () => received,
    updates: () => updates,
    arrived: (bytes) => (received >= bytes ? Promise.resolve() : new Promise((resolve) => waiters.push({ bytes, resolve }))),
    close: async () => {
      await clientMuxer.close()
      await serverMuxer.close()
    },
  }
}

describe('halfWindowUpdates (yamux)', () => {
  it('small frames draw no window update until half the window is consumed', async () => {
    expect(halfWindowUpdates()).toBe(true)
    const p = await pair()
    const messages = 200 // 200 × 100 B: far below half of yamux's 256 KiB initial window
    for (let i = 0; i < messages; i++) {
      // One at a time, as requests cross a link: each is a data frame of its own.
      p.client.send(new Uint8Array(100).fill(i & 0xff))
      await p.arrived((i + 1) * 100)
    }
    // Unpatched, the receiver answered each data frame with a window update (200 here); one
    // may carry the ACK flag of the stream's opening.
    expect(p.updates()).toBeLessThanOrEqual(1)
    await p.close()
  })

  it('a transfer many windows long still flows to the end', async () => {
    expect(halfWindowUpdates()).toBe(true)
    const p = await pair()
    const chunk = 64 * 1024
    const total = 16 * 1024 * 1024 // 64 initial windows
    for (let sent = 0; sent < total; sent += chunk) {
      if (!p.client.send(new Uint8Array(chunk))) await p.client.onDrain()
    }
    await p.arrived(total)
    expect(p.received()).toBe(total)
    // Window updates still flow: the sender would have stalled after 256 KiB without them.
    expect(p.updates()).toBeGreaterThan(0)
    await p.close()
  })
})
