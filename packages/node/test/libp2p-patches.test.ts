/**
 * The yamux window-update patch (overlay/libp2p-patches.ts, patch 3) on two real yamux muxers
 * joined by libp2p's in-memory connection pair: small frames no longer draw one WINDOW_UPDATE
 * each, the update they share still comes, and a transfer many windows long flows to the end.
 */
import '../src/polyfill.js' // Promise.withResolvers for libp2p on Node 20
import { afterEach, describe, expect, it, vi } from 'vitest'
import { multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import type { Stream } from '@libp2p/interface'
import { WINDOW_UPDATE_DELAY_MS, coalescedWindowUpdates, flushWindowUpdate, type YamuxStreamShape } from '../src/overlay/libp2p-patches.js'

const WINDOW_UPDATE = 1 // yamux frame type

/** Two muxers; counts the window updates the receiving side sends. */
interface Windows {
  /** What the receiver has announced (its window). */
  recvWindow: number
  /** What the sender may still send. */
  sendWindowCapacity: number
}

async function pair(): Promise<{ client: Stream; server: () => Stream; received: () => number; updates: () => number; arrived: (bytes: number) => Promise<void>; close: () => Promise<void>; hangUp: () => Promise<void> }> {
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
  let server: Stream | undefined
  serverMuxer.addEventListener('stream', (evt) => {
    server = evt.detail
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
    server: () => server as Stream,
    received: () => received,
    updates: () => updates,
    arrived: (bytes) => (received >= bytes ? Promise.resolve() : new Promise((resolve) => waiters.push({ bytes, resolve }))),
    close: async () => {
      await clientMuxer.close()
      await serverMuxer.close()
    },
    /** The receiving side's connection starts closing under its streams (a relay stopping). */
    hangUp: () => inbound.close(),
  }
}

describe('coalescedWindowUpdates (yamux)', () => {
  afterEach(() => { coalescedWindowUpdates(WINDOW_UPDATE_DELAY_MS) })

  /** 200 × 100 B, one at a time as requests cross a link: each is a data frame of its own. */
  async function oneAtATime(p: Awaited<ReturnType<typeof pair>>): Promise<void> {
    for (let i = 0; i < 200; i++) {
      p.client.send(new Uint8Array(100).fill(i & 0xff))
      await p.arrived((i + 1) * 100)
    }
  }

  it('small frames draw no window update of their own', async () => {
    expect(coalescedWindowUpdates(60_000)).toBe(true) // no coalesced update falls due during the test
    const p = await pair()
    await oneAtATime(p)
    // Unpatched, the receiver answered each data frame with a window update (200 here). Patched,
    // the only ones are yamux's own growth (256 KiB to 16 MiB is 6 doublings, each announced at
    // once) and one that may carry the ACK flag of the stream's opening.
    expect(p.updates()).toBeLessThanOrEqual(7)
    await p.close()
  })

  it("the update they share comes within the delay: the sender's window is whole again", async () => {
    expect(coalescedWindowUpdates()).toBe(true)
    const p = await pair()
    await oneAtATime(p)
    const sender = p.client as unknown as Windows
    const receiver = p.server() as unknown as Windows
    await vi.waitFor(() => { expect(sender.sendWindowCapacity).toBe(receiver.recvWindow) }, { timeout: 2_000, interval: 5 })
    await p.close()
  })

  it('an update that falls due while the connection closes is dropped, not thrown', async () => {
    expect(coalescedWindowUpdates(60_000)).toBe(true) // the pending update waits for the test
    const p = await pair()
    await oneAtATime(p)
    const receiver = p.server() as unknown as YamuxStreamShape
    const timer = receiver.__heraldUpdateTimer
    expect(timer).toBeDefined() // an update is waiting
    clearTimeout(timer)
    const closing = p.hangUp()
    // What the timer would do now: send on a closing connection, which throws — from a timer,
    // an uncaught exception (a relay process would die).
    expect(() => { flushWindowUpdate(receiver) }).not.toThrow()
    expect(receiver.__heraldUpdateTimer).toBeUndefined()
    await closing
  })

  it('a transfer many windows long still flows to the end', async () => {
    expect(coalescedWindowUpdates()).toBe(true)
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
