/**
 * A tunnel stream's stall guard (peers/tunnel-stream.ts), in memory with a manual clock: a
 * half-received frame whose bytes keep coming is not a stall, however long the frame takes
 * (a large tunnel frame on a slow, lossy path); one whose bytes stop is waited for up to
 * STALL_CHECKS × stallMs (a path stall), then the stream is closed and says why.
 */
import { describe, expect, it } from 'vitest'
import { FrameType, STREAM_TUNNEL_ID, encodeFrame } from '@herald/wire'
import { ManualClock } from '../src/clock.js'
import { silentLogger } from '../src/log.js'
import type { ByteStream, ByteStreamEvents } from '../src/overlay/overlay.js'
import type { TunnelSink } from '../src/peers/sinks.js'
import { STALL_CHECKS, TunnelStream } from '../src/peers/tunnel-stream.js'

const STALL_MS = 10_000

interface Setup {
  clock: ManualClock
  feed: (b: Uint8Array) => void
  aborted: () => Error | undefined
  detached: string[]
  payloads: number[]
}

function setup(): Setup {
  let events: ByteStreamEvents | undefined
  let abortedWith: Error | undefined
  const stream: ByteStream = {
    kind: 'tunnel',
    remotePeer: 'relay-b',
    send: () => true,
    writeBufferLength: 0,
    close: async () => {},
    abort: (err) => { abortedWith = err },
    attach: (e) => { events = e },
  }
  const detached: string[] = []
  const payloads: number[] = []
  const sink: TunnelSink = {
    attach: () => {},
    detach: (_t, why) => { detached.push(why) },
    openTunnel: () => {},
    tunnelAccept: () => {},
    tunnelData: (_t, _id, payload) => { payloads.push(payload.length) },
    tunnelAllowance: () => {},
    tunnelClose: () => {},
  }
  const clock = new ManualClock()
  new TunnelStream({ stream, sink, maxFrameBytes: 1 << 20, stallMs: STALL_MS, clock, log: silentLogger })
  return { clock, feed: (b) => (events as ByteStreamEvents).message(b), aborted: () => abortedWith, detached, payloads }
}

describe('TunnelStream stall guard', () => {
  const frame = encodeFrame({ type: FrameType.tunnelData, tunnel: STREAM_TUNNEL_ID, payload: new Uint8Array(64 * 1024).fill(7) })

  it('a frame whose bytes keep coming survives past stallMs and is delivered whole', () => {
    const t = setup()
    // 64 KiB over 40 s in 4 KiB pieces, one every 2.5 s: four times stallMs for the whole frame.
    for (let at = 0; at < frame.length; at += 4096) {
      t.feed(frame.subarray(at, Math.min(frame.length, at + 4096)))
      t.clock.advance(2_500)
    }
    expect(t.aborted()).toBeUndefined()
    expect(t.detached).toEqual([])
    expect(t.payloads).toEqual([64 * 1024])
  })

  it('a frame whose bytes stop closes the stream after STALL_CHECKS × stallMs, and says why', () => {
    const t = setup()
    t.feed(frame.subarray(0, 4096))
    t.clock.advance(STALL_MS * 2 - 1)
    t.feed(frame.subarray(4096, 8192)) // progress at 19.999 s restarts the count
    t.clock.advance(STALL_MS * STALL_CHECKS - 1)
    expect(t.aborted()).toBeUndefined()
    t.clock.advance(STALL_MS + 1) // STALL_CHECKS checks since the last byte found none
    expect(t.aborted()?.message).toMatch(/partial frame stalled/)
    expect(t.detached).toEqual([`a partial frame stalled for ${STALL_MS * STALL_CHECKS} ms`])
    expect(t.payloads).toEqual([])
  })

  it('a silent connection (a path stall) is waited out up to STALL_CHECKS × stallMs', () => {
    const t = setup()
    t.feed(frame.subarray(0, 4096))
    t.clock.advance(STALL_MS * (STALL_CHECKS - 1) + 1) // 50 s of silence everywhere
    expect(t.aborted()).toBeUndefined()
    t.feed(frame.subarray(4096)) // the stall ends: the rest arrives
    expect(t.payloads).toEqual([64 * 1024])
    t.feed(frame.subarray(0, 4096)) // the next frame is held for good
    // Checks run every stallMs from when the first partial frame came: the next one finds
    // progress, the STALL_CHECKS after it none.
    t.clock.advance(STALL_MS * STALL_CHECKS)
    expect(t.detached).toEqual([])
    t.clock.advance(STALL_MS)
    expect(t.detached).toEqual([`a partial frame stalled for ${STALL_MS * STALL_CHECKS} ms`])
  })
})
