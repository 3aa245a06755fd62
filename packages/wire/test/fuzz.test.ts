// Hostile input: random and mutated byte streams must only ever yield frames or WireErrors.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  encodeFrames,
  ErrorCode,
  FRAME_HEADER_BYTES,
  FrameDecoder,
  frameSize,
  nextFrame,
  parseFrame,
  SCHEMA,
  WireError,
  type Frame,
} from '../src/index.js'
import { frameArb } from './arbitraries.js'

const SEED = 0x4852_4c44 // "HRLD"
const BUFFERS = 100_000

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface Rng {
  int(n: number): number // 0..n-1
  pick<T>(xs: readonly T[]): T
  bytes(n: number): Uint8Array
}

function rng(seed: number): Rng {
  const next = prng(seed)
  const r: Rng = {
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[r.int(xs.length)] as (typeof xs)[number],
    bytes: (n) => {
      const out = new Uint8Array(n)
      for (let i = 0; i < n; i++) out[i] = r.int(256)
      return out
    },
  }
  return r
}

interface Sample {
  bytes: Uint8Array
  /** Offsets where each frame starts (for overwriting length prefixes and types). */
  starts: number[]
}

/** Valid encoded streams to mutate, generated deterministically. */
function corpus(): Sample[] {
  const lists = fc.sample(fc.array(frameArb, { minLength: 1, maxLength: 8 }), { numRuns: 400, seed: SEED })
  return lists.map((frames) => {
    const starts: number[] = []
    let p = 0
    for (const f of frames) {
      starts.push(p)
      p += frameSize(f)
    }
    return { bytes: encodeFrames(frames), starts }
  })
}

const TYPES = Object.keys(SCHEMA).map(Number)

/** Random frames with a well-formed header and a random body: reaches the field parser. */
function structured(r: Rng): Uint8Array {
  const parts: number[] = []
  const n = 1 + r.int(6)
  for (let i = 0; i < n; i++) {
    const bodyLength = r.int(4) === 0 ? r.int(300) : r.int(24)
    const length = 1 + bodyLength
    parts.push((length >>> 24) & 0xff, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff)
    parts.push(r.int(8) === 0 ? r.int(256) : r.pick(TYPES))
    const body = r.bytes(bodyLength)
    // Small first bytes make name and text lengths plausible more often.
    if (bodyLength > 0 && r.int(2) === 0) body[r.int(Math.min(bodyLength, 9))] = r.int(bodyLength + 2)
    for (const b of body) parts.push(b)
  }
  return Uint8Array.from(parts)
}

function interestingLength(r: Rng, actual: number): number {
  return r.pick([
    0, 1, 2, 3, 4, 5, 6, 7, 8, 255, 256, 1023, 1024, 1025, 65535, 65536,
    actual - 1, actual + 1, actual + r.int(100), Math.max(0, actual - r.int(100)),
    DEFAULT_MAX_FRAME_BYTES, DEFAULT_MAX_FRAME_BYTES + 1, 0x7fffffff, 0xffffffff, r.int(2 ** 32),
  ])
}

function mutate(r: Rng, samples: Sample[]): Uint8Array {
  const sample = r.pick(samples)
  let b = sample.bytes.slice()
  const ops = 1 + r.int(4)
  for (let k = 0; k < ops; k++) {
    switch (r.int(8)) {
      case 0: { // bit flips
        if (b.length === 0) break
        const flips = 1 + r.int(4)
        for (let i = 0; i < flips; i++) b[r.int(b.length)]! ^= 1 << r.int(8)
        break
      }
      case 1: // truncation
        b = b.slice(0, r.int(b.length + 1))
        break
      case 2: { // inserted bytes
        const at = r.int(b.length + 1)
        const ins = r.bytes(1 + r.int(8))
        const out = new Uint8Array(b.length + ins.length)
        out.set(b.subarray(0, at))
        out.set(ins, at)
        out.set(b.subarray(at), at + ins.length)
        b = out
        break
      }
      case 3: { // deleted bytes
        const at = r.int(b.length + 1)
        const n = 1 + r.int(8)
        const out = new Uint8Array(Math.max(0, b.length - n))
        out.set(b.subarray(0, at).subarray(0, out.length))
        if (at < out.length) out.set(b.subarray(at + n), at)
        b = out
        break
      }
      case 4:
      case 5: { // an overwritten length prefix
        const start = r.pick(sample.starts)
        if (start + 4 > b.length) break
        const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
        view.setUint32(start, interestingLength(r, view.getUint32(start)) >>> 0)
        break
      }
      case 6: { // an overwritten type byte, or a byte right after the header (a name length)
        const start = r.pick(sample.starts)
        const at = start + 4 + r.int(3)
        if (at < b.length) b[at] = r.int(2) === 0 ? r.pick(TYPES) : r.int(256)
        break
      }
      case 7: { // two streams spliced at random points
        const other = r.pick(samples).bytes
        const cut = r.int(b.length + 1)
        const from = r.int(other.length + 1)
        const out = new Uint8Array(cut + other.length - from)
        out.set(b.subarray(0, cut))
        out.set(other.subarray(from), cut)
        b = out
        break
      }
    }
  }
  return b
}

function chunked(r: Rng, b: Uint8Array): Uint8Array[] {
  switch (r.int(4)) {
    case 0: return [b]
    case 1: { // byte by byte, when short
      if (b.length > 200) return [b]
      return Array.from(b, (_, i) => b.subarray(i, i + 1))
    }
    default: {
      const chunks: Uint8Array[] = []
      let p = 0
      while (p < b.length) {
        const n = 1 + r.int(Math.max(1, b.length >> 1))
        // Sometimes a copy, so frames span separately allocated chunks.
        chunks.push(r.int(2) === 0 ? b.slice(p, p + n) : b.subarray(p, p + n))
        p += n
      }
      return chunks
    }
  }
}

interface Outcome {
  frames: number
  wireErrors: number
}

/**
 * Feeds one buffer into a fresh decoder and reads until null or a WireError. Returns a
 * description of what went wrong, or undefined when every outcome was a frame or a WireError.
 */
function run(r: Rng, b: Uint8Array, tally: Outcome): string | undefined {
  const decoder = new FrameDecoder(r.int(4) === 0 ? { maxFrameBytes: r.pick([1, 5, 64, 300, 4096]) } : {})
  const useRaw = r.int(2) === 0
  let pushed = 0
  let consumed = 0
  for (const chunk of chunked(r, b)) {
    decoder.push(chunk)
    pushed += chunk.length
    // Every frame consumes at least 5 bytes, so this bounds the loop: a hang is a failure.
    const bound = Math.floor(pushed / FRAME_HEADER_BYTES) + 2
    for (let iter = 0; ; iter++) {
      if (iter > bound) return `no end after ${iter} reads of ${pushed} bytes`
      let frame: Frame | null
      let raw: Uint8Array | undefined
      try {
        if (useRaw) {
          const cut = decoder.next()
          if (cut === null) frame = null
          else {
            raw = new Uint8Array(FRAME_HEADER_BYTES + cut.body.length)
            new DataView(raw.buffer).setUint32(0, 1 + cut.body.length)
            raw[4] = cut.type
            raw.set(cut.body, FRAME_HEADER_BYTES)
            if (!sameBytes(cut.frame, raw)) return 'RawFrame.frame is not header + body'
            consumed += raw.length
            frame = parseFrame(cut.type, cut.body)
          }
        } else {
          const before = decoder.buffered
          frame = nextFrame(decoder)
          if (frame !== null) consumed += before - decoder.buffered
        }
      } catch (e) {
        if (!(e instanceof WireError)) return `threw ${String(e)}`
        if (e.code !== ErrorCode.protocol && e.code !== ErrorCode.tooLarge) return `WireError with code ${e.code}`
        tally.wireErrors++
        return undefined // the connection would be closed here
      }
      if (decoder.buffered > pushed) return `buffered ${decoder.buffered} > pushed ${pushed}`
      if (decoder.buffered !== pushed - consumed) return `buffered ${decoder.buffered} != ${pushed} - ${consumed}`
      if (frame === null) break
      tally.frames++
      // A decoded frame is canonical: encoding it again gives the same bytes, except where an
      // unknown error code was normalised to ErrorCode.unknown.
      let again: Uint8Array
      try {
        again = encodeFrame(frame)
      } catch (e) {
        return `decoded frame does not encode: ${String(e)}`
      }
      const normalised = (frame as { code?: number }).code === ErrorCode.unknown
      if (raw !== undefined && !normalised && !sameBytes(raw, again)) return `re-encoding differs for type ${frame.type}`
      if (useRaw === false && again.length > pushed) return 're-encoding longer than the input'
    }
  }
  return undefined
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

describe('fuzz: hostile byte streams', () => {
  it(`${BUFFERS} random and mutated buffers yield only frames or WireErrors`, () => {
    const samples = corpus()
    const r = rng(SEED)
    const tally: Outcome = { frames: 0, wireErrors: 0 }
    const failures: string[] = []
    for (let i = 0; i < BUFFERS; i++) {
      let b: Uint8Array
      const kind = r.int(10)
      if (kind === 0) b = r.bytes(r.int(64))
      else if (kind <= 2) b = structured(r)
      else b = mutate(r, samples)
      const problem = run(r, b, tally)
      if (problem !== undefined && failures.length < 10) {
        failures.push(`#${i}: ${problem}; input ${Buffer.from(b.subarray(0, 64)).toString('hex')}${b.length > 64 ? '…' : ''}`)
      }
    }
    expect(failures).toEqual([])
    // The fuzzer must reach both outcomes often, or it is not testing much.
    expect(tally.frames).toBeGreaterThan(BUFFERS / 2)
    expect(tally.wireErrors).toBeGreaterThan(BUFFERS / 2)
  })

  it('unmutated corpus streams decode completely', () => {
    for (const { bytes, starts } of corpus().slice(0, 50)) {
      const decoder = new FrameDecoder()
      decoder.push(bytes)
      let n = 0
      while (nextFrame(decoder) !== null) n++
      expect(n).toBe(starts.length)
      expect(decoder.buffered).toBe(0)
    }
  })
})
