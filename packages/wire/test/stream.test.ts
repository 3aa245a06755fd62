import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  encodeFrames,
  ErrorCode,
  FrameDecoder,
  FrameType,
  nextFrame,
  Role,
  type Frame,
} from '../src/index.js'
import { frameArb } from './arbitraries.js'

const bytesOf = (s: string): Uint8Array => new TextEncoder().encode(s)

/** Twelve frames of varied types, some with payloads (one empty, one large). */
const FRAMES: Frame[] = [
  { type: FrameType.hello, version: 1, role: Role.member },
  { type: FrameType.welcome, version: 1, maxMessageBytes: 16 * 1024 * 1024, nodeId: '12D3KooWnode' },
  {
    type: FrameType.register, seq: 1, cluster: 'databases',
    requestConcurrency: 8, requestMemory: 1 << 20, broadcastConcurrency: 4, broadcastMemory: 1 << 16,
  },
  { type: FrameType.request, id: 7, timeoutMs: 1000, cluster: 'databases', payload: bytesOf('SELECT 1') },
  { type: FrameType.reply, id: 7, payload: new Uint8Array(0) },
  { type: FrameType.failure, id: 8, code: ErrorCode.remote, message: 'handler threw: ünïcode €' },
  { type: FrameType.publish, topic: 'orders.created', payload: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) },
  { type: FrameType.event, topic: 'orders.created', payload: bytesOf('{"id":1}') },
  { type: FrameType.tunnelOpen, tunnel: 3, timeoutMs: 500, cluster: 'thumbnailers' },
  { type: FrameType.tunnelData, tunnel: 3, payload: bytesOf('chunk') },
  { type: FrameType.tunnelAllowance, tunnel: 3, bytes: 65536 },
  { type: FrameType.dropped, topic: 'orders.created', count: 42 },
  { type: FrameType.ping, token: 0xffffffff },
  { type: FrameType.close, code: ErrorCode.ok, reason: 'bye' },
]

/** Feeds `chunks` one push at a time, draining frames after each push. */
function feed(chunks: Uint8Array[]): Frame[] {
  const decoder = new FrameDecoder()
  const out: Frame[] = []
  let pushed = 0
  for (const chunk of chunks) {
    decoder.push(chunk)
    pushed += chunk.length
    for (let frame = nextFrame(decoder); frame !== null; frame = nextFrame(decoder)) out.push(frame)
    expect(decoder.buffered).toBeLessThanOrEqual(pushed)
  }
  expect(decoder.buffered).toBe(0)
  return out
}

describe('a stream of frames split anywhere', () => {
  const stream = encodeFrames(FRAMES)

  it('decodes in one push', () => {
    expect(feed([stream])).toEqual(FRAMES)
  })

  it('decodes when split in two at every split point', () => {
    for (let i = 0; i <= stream.length; i++) {
      const got = feed([stream.subarray(0, i), stream.subarray(i)])
      expect(got, `split at ${i}`).toEqual(FRAMES)
    }
  })

  it('decodes when split in two at every split point, from copies (no shared buffer)', () => {
    for (let i = 0; i <= stream.length; i++) {
      expect(feed([stream.slice(0, i), stream.slice(i)]), `split at ${i}`).toEqual(FRAMES)
    }
  })

  it('decodes byte by byte', () => {
    const chunks = Array.from(stream, (_, i) => stream.slice(i, i + 1))
    expect(feed(chunks)).toEqual(FRAMES)
  })

  it('decodes when every byte is pushed before any frame is read', () => {
    const decoder = new FrameDecoder()
    for (let i = 0; i < stream.length; i++) decoder.push(stream.subarray(i, i + 1))
    expect(decoder.buffered).toBe(stream.length)
    const out: Frame[] = []
    for (let frame = nextFrame(decoder); frame !== null; frame = nextFrame(decoder)) out.push(frame)
    expect(out).toEqual(FRAMES)
  })

  it('decoder.next() gives each frame\'s whole bytes, type and body, across chunk boundaries', () => {
    const parts = FRAMES.map((f) => encodeFrames([f]))
    for (const split of [1, 3, 7, 50]) {
      const decoder = new FrameDecoder()
      for (let i = 0; i < stream.length; i += split) decoder.push(stream.slice(i, i + split))
      for (const part of parts) {
        const raw = decoder.next()
        expect(raw).not.toBeNull()
        expect(raw!.frame).toEqual(part)
        expect(raw!.type).toBe(part[4])
        expect(raw!.body).toEqual(part.subarray(5))
      }
      expect(decoder.next()).toBeNull()
    }
  })

  it('reports a stalled half frame in buffered', () => {
    const decoder = new FrameDecoder()
    const first = encodeFrames(FRAMES.slice(0, 1))
    decoder.push(stream.subarray(0, first.length + 3))
    expect(nextFrame(decoder)).toEqual(FRAMES[0])
    expect(nextFrame(decoder)).toBeNull()
    expect(decoder.buffered).toBe(3)
  })

  // How long these take (linear, not quadratic, in the number of chunks) is measured by
  // bench/decoder.ts; here only the result is checked.
  it('cuts a large frame from one-byte chunks', () => {
    const payload = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) & 0xff)
    const bytes = encodeFrames([{ type: FrameType.tunnelData, tunnel: 9, payload }, { type: FrameType.ping, token: 5 }])
    const decoder = new FrameDecoder()
    for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1))
    expect(nextFrame(decoder)).toEqual({ type: FrameType.tunnelData, tunnel: 9, payload })
    expect(nextFrame(decoder)).toEqual({ type: FrameType.ping, token: 5 })
    expect(decoder.buffered).toBe(0)
  })

  it('cuts many small frames from one-byte chunks', () => {
    const frames: Frame[] = Array.from({ length: 40_000 }, (_, i) => ({ type: FrameType.pong, token: i }))
    const bytes = encodeFrames(frames)
    const decoder = new FrameDecoder()
    for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1))
    const got: Frame[] = []
    for (let f = nextFrame(decoder); f !== null; f = nextFrame(decoder)) got.push(f)
    expect(got).toEqual(frames)
    expect(decoder.buffered).toBe(0)
  })

  it('decodes random frame lists under random chunking', () => {
    fc.assert(
      fc.property(
        fc.array(frameArb, { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 1 << 16 }), { maxLength: 40 }),
        (frames, cuts) => {
          const bytes = encodeFrames(frames)
          const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
          const chunks: Uint8Array[] = []
          let prev = 0
          for (const p of [...points, bytes.length]) {
            chunks.push(bytes.subarray(prev, p))
            prev = p
          }
          expect(feed(chunks)).toEqual(frames)
        },
      ),
      { numRuns: 300 },
    )
  })
})
