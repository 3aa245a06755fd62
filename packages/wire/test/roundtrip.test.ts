import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  encodeFrame,
  ErrorCode,
  FrameDecoder,
  FrameType,
  namedPayloadBytes,
  nextFrame,
  SCHEMA,
  type Frame,
} from '../src/index.js'
import { frameArb, frameArbs } from './arbitraries.js'

function decodeOne(bytes: Uint8Array): Frame | null {
  const decoder = new FrameDecoder()
  decoder.push(bytes)
  const frame = nextFrame(decoder)
  expect(decoder.buffered).toBe(0)
  expect(nextFrame(decoder)).toBeNull()
  return frame
}

describe('round trip of every frame type', () => {
  it('the arbitraries cover exactly the schema', () => {
    const covered = Object.keys(frameArbs).map((k) => FrameType[k as keyof typeof FrameType]).sort((a, b) => a - b)
    const schema = Object.keys(SCHEMA).map(Number).sort((a, b) => a - b)
    expect(covered).toEqual(schema)
  })

  for (const [name, arb] of Object.entries(frameArbs) as [string, fc.Arbitrary<Frame>][]) {
    it(`${name}: encodeFrame -> push -> nextFrame gives the frame back`, () => {
      fc.assert(
        fc.property(arb, (frame) => {
          const bytes = encodeFrame(frame)
          // Header: u32 BE length of type + body, then the type byte.
          expect(new DataView(bytes.buffer).getUint32(0)).toBe(bytes.length - 4)
          expect(bytes[4]).toBe(frame.type)
          expect(decodeOne(bytes)).toEqual(frame)
        }),
        { numRuns: 300 },
      )
    })
  }

  it('any frame, decoded, re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        const bytes = encodeFrame(frame)
        const again = decodeOne(bytes)
        expect(again).not.toBeNull()
        expect(encodeFrame(again as Frame)).toEqual(bytes)
      }),
      { numRuns: 500 },
    )
  })

  it('names keep a leading byte order mark (U+FEFF is part of the name)', () => {
    for (const topic of ['\uFEFF', '\uFEFFnews', 'a\uFEFF']) {
      const frame: Frame = { type: FrameType.publish, topic, payload: new Uint8Array([1]) }
      expect(decodeOne(encodeFrame(frame))).toEqual(frame)
    }
    const err: Frame = { type: FrameType.error, code: ErrorCode.protocol, message: '\uFEFF!' }
    expect(decodeOne(encodeFrame(err))).toEqual(err)
  })

  it('an unknown error code decodes to ErrorCode.unknown', () => {
    const known = new Set<number>(Object.values(ErrorCode))
    const unknownCode = fc.integer({ min: 0, max: 0xffff }).filter((n) => !known.has(n))
    fc.assert(
      fc.property(unknownCode, fc.integer({ min: 0, max: 0xffffffff }), (code, id) => {
        const frames = [
          { type: FrameType.failure, id, code: code as ErrorCode, message: 'm' },
          { type: FrameType.tunnelClose, tunnel: id, code: code as ErrorCode, reason: 'r' },
          { type: FrameType.close, code: code as ErrorCode, reason: 'r' },
          { type: FrameType.error, code: code as ErrorCode, message: 'm' },
          { type: FrameType.ack, seq: id, code: code as ErrorCode, message: 'm' },
        ] satisfies Frame[]
        for (const frame of frames) {
          expect(decodeOne(encodeFrame(frame))).toEqual({ ...frame, code: ErrorCode.unknown })
        }
      }),
      { numRuns: 200 },
    )
  })

  it('EVENT has the layout of PUBLISH: changing the type byte turns one into the other', () => {
    fc.assert(
      fc.property(frameArbs.publish, (publish) => {
        const bytes = encodeFrame(publish).slice()
        bytes[4] = FrameType.event
        expect(decodeOne(bytes)).toEqual({ ...publish, type: FrameType.event })
      }),
      { numRuns: 100 },
    )
  })

  it('namedPayloadBytes reads the payload size of an encoded PUBLISH, EVENT or BROADCAST from its header', () => {
    fc.assert(
      fc.property(fc.oneof(frameArbs.publish, frameArbs.event, frameArbs.broadcast), (f) => {
        expect(namedPayloadBytes(encodeFrame(f))).toBe(f.payload.length)
      }),
      { numRuns: 200 },
    )
  })

  it('decodes a PUBLISH frame from known bytes', () => {
    // The worked example of docs/protocol.md.
    const hex = '0000000b' + '0b' + '046e657773' + '68656c6c6f'
    const bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)))
    const frame: Frame = { type: FrameType.publish, topic: 'news', payload: new TextEncoder().encode('hello') }
    expect(encodeFrame(frame)).toEqual(bytes)
    expect(decodeOne(bytes)).toEqual(frame)
  })

  it('decodes a HELLO frame from known bytes', () => {
    const bytes = new Uint8Array([0, 0, 0, 7, 0x01, 0x48, 0x52, 0x4c, 0x44, 1, 1])
    const frame: Frame = { type: FrameType.hello, version: 1, role: 1 }
    expect(encodeFrame(frame)).toEqual(bytes)
    expect(decodeOne(bytes)).toEqual(frame)
  })
})
