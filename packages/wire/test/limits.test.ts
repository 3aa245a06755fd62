import { describe, it, expect } from 'vitest'
import {
  DEFAULT_MAX_FRAME_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  encodeFrame,
  ErrorCode,
  FRAME_OVERHEAD_BYTES,
  FrameDecoder,
  FrameType,
  MAX_NAME_BYTES,
  MAX_TEXT_BYTES,
  nextFrame,
  parseFrame,
  WireError,
  type Frame,
} from '../src/index.js'

/** A frame on the wire from its type and body bytes. */
function frameBytes(type: number, body: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(5 + body.length)
  new DataView(out.buffer).setUint32(0, 1 + body.length)
  out[4] = type
  out.set(Array.from(body), 5)
  return out
}

function u32be(n: number): number[] {
  return [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]
}

/** Runs `fn`, expecting a WireError with `code`; returns it. */
function expectWireError(fn: () => unknown, code: ErrorCode): WireError {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught).toBeInstanceOf(WireError)
  const err = caught as WireError
  expect(err.name).toBe('WireError')
  expect(err.code).toBe(code)
  return err
}

function decodeAll(bytes: Uint8Array, init?: { maxFrameBytes?: number }): Frame[] {
  const decoder = new FrameDecoder(init)
  decoder.push(bytes)
  const out: Frame[] = []
  for (let f = nextFrame(decoder); f !== null; f = nextFrame(decoder)) out.push(f)
  return out
}

const HELLO_BODY = [0x48, 0x52, 0x4c, 0x44, 1, 0]

describe('frame length limits', () => {
  it('defaults: max frame = 16 MiB message + 1024', () => {
    expect(DEFAULT_MAX_MESSAGE_BYTES).toBe(16 * 1024 * 1024)
    expect(FRAME_OVERHEAD_BYTES).toBe(1024)
    expect(DEFAULT_MAX_FRAME_BYTES).toBe(DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES)
    expect(new FrameDecoder().maxFrameBytes).toBe(DEFAULT_MAX_FRAME_BYTES)
  })

  it('rejects a length over maxFrameBytes from the 4-byte header alone (tooLarge)', () => {
    for (const length of [DEFAULT_MAX_FRAME_BYTES + 1, 0x7fffffff, 0xffffffff]) {
      const decoder = new FrameDecoder()
      decoder.push(new Uint8Array(u32be(length)))
      expectWireError(() => decoder.next(), ErrorCode.tooLarge)
      expect(decoder.buffered).toBe(4)
    }
  })

  it('rejects a too-large header even when it arrives split', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 })
    decoder.push(new Uint8Array([0, 0]))
    expect(decoder.next()).toBeNull()
    decoder.push(new Uint8Array([0]))
    expect(decoder.next()).toBeNull()
    decoder.push(new Uint8Array([101]))
    expectWireError(() => decoder.next(), ErrorCode.tooLarge)
  })

  it('accepts a frame of exactly maxFrameBytes and waits for its body', () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 100 })
    const frame = encodeFrame({ type: FrameType.reply, id: 1, payload: new Uint8Array(95) })
    expect(frame.length).toBe(104)
    decoder.push(frame.subarray(0, 50))
    expect(nextFrame(decoder)).toBeNull()
    decoder.push(frame.subarray(50))
    expect(nextFrame(decoder)).toEqual({ type: FrameType.reply, id: 1, payload: new Uint8Array(95) })
    const over = encodeFrame({ type: FrameType.reply, id: 1, payload: new Uint8Array(96) })
    expectWireError(() => decodeAll(over, { maxFrameBytes: 100 }), ErrorCode.tooLarge)
  })

  it('rejects length 0 as a protocol error', () => {
    const decoder = new FrameDecoder()
    decoder.push(new Uint8Array([0, 0, 0, 0]))
    expectWireError(() => decoder.next(), ErrorCode.protocol)
  })

  it('once failed, the decoder keeps throwing the same error', () => {
    const decoder = new FrameDecoder()
    decoder.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]))
    const first = expectWireError(() => decoder.next(), ErrorCode.tooLarge)
    decoder.push(encodeFrame({ type: FrameType.ping, token: 1 }))
    for (let i = 0; i < 3; i++) {
      const again = expectWireError(() => nextFrame(decoder), ErrorCode.tooLarge)
      expect(again).toBe(first)
    }
    const zero = new FrameDecoder()
    zero.push(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 5, 0x12, 0, 0, 0, 1]))
    expectWireError(() => zero.next(), ErrorCode.protocol)
    expectWireError(() => zero.next(), ErrorCode.protocol)
  })

  it('a frame with only a type byte is fine for the cutter, a truncation for the parser', () => {
    const decoder = new FrameDecoder()
    decoder.push(new Uint8Array([0, 0, 0, 1, FrameType.ping]))
    const raw = decoder.next()
    expect(raw).not.toBeNull()
    expect(raw!.type).toBe(FrameType.ping)
    expect(raw!.body.length).toBe(0)
    expectWireError(() => parseFrame(raw!.type, raw!.body), ErrorCode.protocol)
  })
})

describe('names on encode', () => {
  const publish = (topic: string): Frame => ({ type: FrameType.publish, topic, payload: new Uint8Array(0) })

  it('rejects an empty name with WireError(invalid)', () => {
    expectWireError(() => encodeFrame(publish('')), ErrorCode.invalid)
    expectWireError(() => encodeFrame({ type: FrameType.welcome, version: 1, maxMessageBytes: 1, nodeId: '' }), ErrorCode.invalid)
  })

  it('rejects a name over 255 UTF-8 bytes with WireError(invalid)', () => {
    expect(encodeFrame(publish('a'.repeat(MAX_NAME_BYTES))).length).toBe(5 + 1 + MAX_NAME_BYTES)
    expectWireError(() => encodeFrame(publish('a'.repeat(MAX_NAME_BYTES + 1))), ErrorCode.invalid)
    // 128 characters, 256 bytes: the limit counts bytes, not characters.
    expectWireError(() => encodeFrame(publish('é'.repeat(128))), ErrorCode.invalid)
    expectWireError(() => encodeFrame(publish('😀'.repeat(64))), ErrorCode.invalid)
    expect(encodeFrame(publish('😀'.repeat(63) + 'abc')).length).toBe(5 + 1 + 255)
  })

  it('rejects integers out of range with WireError(invalid)', () => {
    expectWireError(() => encodeFrame({ type: FrameType.ping, token: 2 ** 32 }), ErrorCode.invalid)
    expectWireError(() => encodeFrame({ type: FrameType.ping, token: -1 }), ErrorCode.invalid)
    expectWireError(() => encodeFrame({ type: FrameType.ping, token: 1.5 }), ErrorCode.invalid)
    expectWireError(() => encodeFrame({ type: FrameType.hello, version: 256, role: 0 }), ErrorCode.invalid)
    expectWireError(() => encodeFrame({ type: FrameType.close, code: 0x10000 as ErrorCode, reason: '' }), ErrorCode.invalid)
  })

  it('rejects an unknown frame type with WireError(invalid)', () => {
    expectWireError(() => encodeFrame({ type: 0x99, token: 1 } as unknown as Frame), ErrorCode.invalid)
  })
})

describe('malformed bodies on decode', () => {
  it('rejects a name that is not valid UTF-8 with WireError(protocol)', () => {
    for (const bad of [[0xff], [0xc3], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0x61, 0x80]]) {
      const body = [bad.length, ...bad]
      expectWireError(() => decodeAll(frameBytes(FrameType.publish, body)), ErrorCode.protocol)
      expectWireError(() => decodeAll(frameBytes(FrameType.dropped, [...body, 0, 0, 0, 1])), ErrorCode.protocol)
    }
  })

  it('rejects a text that is not valid UTF-8 or over 1024 bytes with WireError(protocol)', () => {
    expectWireError(() => decodeAll(frameBytes(FrameType.error, [0, 8, 0, 1, 0xfe])), ErrorCode.protocol)
    const long = new Array<number>(MAX_TEXT_BYTES + 1).fill(0x61)
    expectWireError(() => decodeAll(frameBytes(FrameType.error, [0, 8, ...u32be(long.length).slice(2), ...long])), ErrorCode.protocol)
    const max = new Array<number>(MAX_TEXT_BYTES).fill(0x61)
    expect(decodeAll(frameBytes(FrameType.error, [0, 8, ...u32be(max.length).slice(2), ...max]))).toEqual([
      { type: FrameType.error, code: ErrorCode.protocol, message: 'a'.repeat(MAX_TEXT_BYTES) },
    ])
  })

  it('rejects an empty name (length byte 0) with WireError(protocol)', () => {
    expectWireError(() => decodeAll(frameBytes(FrameType.publish, [0])), ErrorCode.protocol)
  })

  it('rejects trailing bytes', () => {
    expectWireError(() => decodeAll(frameBytes(FrameType.ping, [0, 0, 0, 1, 0])), ErrorCode.protocol)
    expectWireError(() => decodeAll(frameBytes(FrameType.hello, [...HELLO_BODY, 9])), ErrorCode.protocol)
    expectWireError(() => decodeAll(frameBytes(FrameType.subscribe, [0, 0, 0, 1, 1, 0x61, 0, 0, 0, 1, 7])), ErrorCode.protocol)
  })

  it('rejects a HELLO with bad magic', () => {
    expect(decodeAll(frameBytes(FrameType.hello, HELLO_BODY))).toEqual([{ type: FrameType.hello, version: 1, role: 0 }])
    for (let i = 0; i < 4; i++) {
      const body = [...HELLO_BODY]
      body[i] = (body[i] as number) ^ 0x20
      expectWireError(() => decodeAll(frameBytes(FrameType.hello, body)), ErrorCode.protocol)
    }
    // Someone speaking HTTP to the client port.
    expectWireError(() => decodeAll(new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')), ErrorCode.tooLarge)
  })

  it('rejects a HELLO with an unknown role', () => {
    expectWireError(() => decodeAll(frameBytes(FrameType.hello, [0x48, 0x52, 0x4c, 0x44, 1, 2])), ErrorCode.protocol)
  })

  it('rejects an unknown frame type', () => {
    for (const type of [0x00, 0x18, 0x7f, 0xff]) {
      expectWireError(() => decodeAll(frameBytes(type, [])), ErrorCode.protocol)
      expectWireError(() => decodeAll(frameBytes(type, [1, 2, 3])), ErrorCode.protocol)
    }
  })

  it('rejects every truncation of every fixed-size body', () => {
    const frames: Frame[] = [
      { type: FrameType.hello, version: 1, role: 1 },
      { type: FrameType.welcome, version: 1, maxMessageBytes: 99, nodeId: 'node' },
      { type: FrameType.register, seq: 1, cluster: 'c', requestConcurrency: 1, requestMemory: 2, broadcastConcurrency: 3, broadcastMemory: 4 },
      { type: FrameType.unregister, seq: 1, cluster: 'c' },
      { type: FrameType.request, id: 1, timeoutMs: 5, cluster: 'db', payload: new Uint8Array(0) },
      { type: FrameType.reply, id: 1, payload: new Uint8Array(0) },
      { type: FrameType.failure, id: 1, code: ErrorCode.timeout, message: 'late' },
      { type: FrameType.broadcast, cluster: 'db', payload: new Uint8Array(0) },
      { type: FrameType.subscribe, seq: 2, topic: 't', memoryLimit: 10 },
      { type: FrameType.unsubscribe, seq: 2, topic: 't' },
      { type: FrameType.publish, topic: 'news', payload: new Uint8Array(0) },
      { type: FrameType.event, topic: 'news', payload: new Uint8Array(0) },
      { type: FrameType.tunnelOpen, tunnel: 1, timeoutMs: 2, cluster: 'c' },
      { type: FrameType.tunnelAccept, tunnel: 1, allowance: 2 },
      { type: FrameType.tunnelData, tunnel: 1, payload: new Uint8Array(0) },
      { type: FrameType.tunnelAllowance, tunnel: 1, bytes: 2 },
      { type: FrameType.tunnelClose, tunnel: 1, code: ErrorCode.ok, reason: 'done' },
      { type: FrameType.ping, token: 1 },
      { type: FrameType.pong, token: 1 },
      { type: FrameType.close, code: ErrorCode.shutdown, reason: 'bye' },
      { type: FrameType.error, code: ErrorCode.version, message: 'v2?' },
      { type: FrameType.dropped, topic: 't', count: 3 },
      { type: FrameType.ack, seq: 9, code: ErrorCode.ok, message: '' },
    ]
    for (const frame of frames) {
      const bytes = encodeFrame(frame)
      const body = bytes.subarray(5)
      expect(parseFrame(frame.type, body)).toEqual(frame)
      // With an empty payload ('rest'), every shorter body is missing a field.
      for (let n = 0; n < body.length; n++) {
        expectWireError(() => decodeAll(frameBytes(frame.type, body.subarray(0, n))), ErrorCode.protocol)
      }
    }
  })

  it('a name length pointing past the end of the frame is a truncation, not an over-read', () => {
    // PUBLISH claiming a 200-byte topic in a 3-byte body, followed by a valid frame in the
    // same buffer: the parser must not read into the next frame.
    const bad = frameBytes(FrameType.publish, [200, 0x61, 0x62])
    const next = encodeFrame({ type: FrameType.ping, token: 1 })
    const both = new Uint8Array(bad.length + next.length)
    both.set(bad)
    both.set(next, bad.length)
    expectWireError(() => decodeAll(both), ErrorCode.protocol)
  })
})
