import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  encodeFrame,
  encodeFrames,
  ErrorCode,
  FrameType,
  frameSize,
  MAX_TEXT_BYTES,
  nameBytes,
  textBytes,
  writeFrame,
  type Frame,
} from '../src/index.js'
import { frameArb } from './arbitraries.js'

const utf8 = new TextEncoder()
const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

describe('encodeFrames / frameSize / writeFrame', () => {
  it('frameSize is the length encodeFrame produces', () => {
    fc.assert(
      fc.property(frameArb, (frame) => {
        expect(encodeFrame(frame).length).toBe(frameSize(frame))
      }),
      { numRuns: 500 },
    )
  })

  it('encodeFrames is the concatenation of encodeFrame, and its length the sum of frameSize', () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 10 }), (frames) => {
        const all = encodeFrames(frames)
        const parts = frames.map(encodeFrame)
        expect(all.length).toBe(frames.reduce((n, f) => n + frameSize(f), 0))
        const joined = new Uint8Array(all.length)
        let p = 0
        for (const part of parts) {
          joined.set(part, p)
          p += part.length
        }
        expect(all).toEqual(joined)
      }),
      { numRuns: 300 },
    )
  })

  it('writeFrame writes at an offset, returns the end, and touches nothing else', () => {
    fc.assert(
      fc.property(frameArb, fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 64 }), (frame, before, after) => {
        const size = frameSize(frame)
        // A view into a larger buffer, to catch byteOffset mistakes.
        const backing = new Uint8Array(7 + before + size + after).fill(0xaa)
        const target = backing.subarray(7)
        const end = writeFrame(frame, target, before)
        expect(end).toBe(before + size)
        expect(target.subarray(before, end)).toEqual(encodeFrame(frame))
        expect(backing.subarray(0, 7 + before).every((b) => b === 0xaa)).toBe(true)
        expect(target.subarray(end).every((b) => b === 0xaa)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('encodeFrames of nothing is empty', () => {
    expect(encodeFrames([]).length).toBe(0)
  })

  it('long texts are cut on encode, so the frame always decodes', () => {
    const frame: Frame = { type: FrameType.error, code: ErrorCode.protocol, message: '€'.repeat(1000) }
    const bytes = encodeFrame(frame)
    // 341 whole 3-byte characters fit in 1024 bytes.
    expect(bytes.length).toBe(5 + 2 + 2 + 341 * 3)
    expect(frameSize(frame)).toBe(bytes.length)
  })
})

describe('textBytes', () => {
  it('keeps texts up to 1024 bytes whole', () => {
    expect(textBytes('')).toEqual(new Uint8Array(0))
    expect(textBytes('a'.repeat(MAX_TEXT_BYTES))).toEqual(utf8.encode('a'.repeat(MAX_TEXT_BYTES)))
  })

  it('cuts long texts at a UTF-8 character boundary, keeping as much as fits', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 1500 }), fc.string({ unit: 'grapheme-ascii', maxLength: 1100 }), (a, b) => {
        for (const text of [a, b, a + b, b + a]) {
          const full = utf8.encode(text)
          const cut = textBytes(text)
          expect(cut.length).toBeLessThanOrEqual(MAX_TEXT_BYTES)
          // A prefix of the full encoding that is itself valid UTF-8 ...
          expect(full.subarray(0, cut.length)).toEqual(cut)
          const decoded = strict.decode(cut)
          expect(text.startsWith(decoded)).toBe(true)
          // ... and the longest such prefix: the next character would not fit.
          if (cut.length < full.length) {
            const nextChar = String.fromCodePoint(text.codePointAt(decoded.length) as number)
            expect(cut.length + utf8.encode(nextChar).length).toBeGreaterThan(MAX_TEXT_BYTES)
          } else {
            expect(full.length).toBeLessThanOrEqual(MAX_TEXT_BYTES)
          }
        }
      }),
      { numRuns: 300 },
    )
  })

  it('cuts each multi-byte width at the boundary', () => {
    for (const [ch, width] of [['é', 2], ['€', 3], ['😀', 4]] as const) {
      for (let pad = 0; pad < width; pad++) {
        const text = 'a'.repeat(pad) + ch.repeat(600)
        const cut = textBytes(text)
        const whole = Math.floor((MAX_TEXT_BYTES - pad) / width)
        expect(cut.length).toBe(pad + whole * width)
        expect(strict.decode(cut)).toBe('a'.repeat(pad) + ch.repeat(whole))
      }
    }
  })
})

describe('nameBytes', () => {
  it('is the UTF-8 encoding of the name, stable across calls (cached)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 60 }), (name) => {
        const bytes = utf8.encode(name)
        fc.pre(bytes.length <= 255)
        expect(nameBytes(name)).toEqual(bytes)
        expect(nameBytes(name)).toEqual(bytes)
      }),
    )
  })

  it('keeps working past the cache bound', () => {
    for (let i = 0; i < 10_000; i++) expect(nameBytes(`topic.${i}`).length).toBe(`topic.${i}`.length)
    expect(nameBytes('topic.1')).toEqual(utf8.encode('topic.1'))
  })
})
