// fast-check arbitraries for every frame type, within the limits the codec enforces.
import fc from 'fast-check'
import {
  ErrorCode,
  FrameType,
  MAX_NAME_BYTES,
  MAX_TEXT_BYTES,
  Role,
  type Frame,
} from '../src/index.js'

const utf8 = new TextEncoder()

/** Cuts a string to at most `max` UTF-8 bytes, at a code point boundary. */
export function cutToBytes(s: string, max: number): string {
  let bytes = 0
  let out = ''
  for (const ch of s) {
    const n = utf8.encode(ch).length
    if (bytes + n > max) break
    bytes += n
    out += ch
  }
  return out
}

// Characters that stress UTF-8 handling: 1- to 4-byte sequences, a BOM (a decoder that
// strips it would change the name), NUL, and the last code points below the surrogates.
const tricky = fc.constantFrom('\uFEFF', '\u0000', 'é', '€', '\uD7FF', '\uE000', '\uFFFF', '😀', '\u{10FFFF}', '.', '*')
const unit = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: tricky },
)

/** A cluster/topic/node name: 1..255 UTF-8 bytes, no lone surrogates. */
export const nameArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit, minLength: 1, maxLength: 80 }).map((s) => cutToBytes(s, MAX_NAME_BYTES)),
  // Long names, up to and at the byte limit.
  fc.string({ unit, minLength: 200, maxLength: 300 }).map((s) => cutToBytes(s, MAX_NAME_BYTES)),
  fc.constant('x'.repeat(MAX_NAME_BYTES)),
  fc.constant('€'.repeat(85)), // exactly 255 bytes of 3-byte characters
).filter((s) => s.length > 0)

/** An error message or close reason: 0..1024 UTF-8 bytes. */
export const textArb: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit, maxLength: 60 }),
  fc.string({ unit, minLength: 900, maxLength: 1100 }).map((s) => cutToBytes(s, MAX_TEXT_BYTES)),
  fc.constant('y'.repeat(MAX_TEXT_BYTES)),
)

export const u8 = fc.integer({ min: 0, max: 0xff })
export const u16 = fc.integer({ min: 0, max: 0xffff })
export const u32 = fc.integer({ min: 0, max: 0xffffffff })
export const payloadArb = fc.oneof(
  { weight: 3, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 5000 }) },
)
export const errorCodeArb = fc.constantFrom(...Object.values(ErrorCode))
export const roleArb = fc.constantFrom(Role.client, Role.member)

/** One arbitrary per frame type, keyed by the FrameType name. */
export const frameArbs = {
  hello: fc.record({ type: fc.constant(FrameType.hello), version: u8, role: roleArb }),
  welcome: fc.record({ type: fc.constant(FrameType.welcome), version: u8, maxMessageBytes: u32, nodeId: nameArb }),
  register: fc.record({
    type: fc.constant(FrameType.register), seq: u32, cluster: nameArb,
    requestConcurrency: u32, requestMemory: u32, broadcastConcurrency: u32, broadcastMemory: u32,
  }),
  unregister: fc.record({ type: fc.constant(FrameType.unregister), seq: u32, cluster: nameArb }),
  request: fc.record({ type: fc.constant(FrameType.request), id: u32, timeoutMs: u32, cluster: nameArb, payload: payloadArb }),
  reply: fc.record({ type: fc.constant(FrameType.reply), id: u32, payload: payloadArb }),
  failure: fc.record({ type: fc.constant(FrameType.failure), id: u32, code: errorCodeArb, message: textArb }),
  broadcast: fc.record({ type: fc.constant(FrameType.broadcast), cluster: nameArb, payload: payloadArb }),
  subscribe: fc.record({ type: fc.constant(FrameType.subscribe), seq: u32, topic: nameArb, memoryLimit: u32 }),
  unsubscribe: fc.record({ type: fc.constant(FrameType.unsubscribe), seq: u32, topic: nameArb }),
  publish: fc.record({ type: fc.constant(FrameType.publish), topic: nameArb, payload: payloadArb }),
  event: fc.record({ type: fc.constant(FrameType.event), topic: nameArb, payload: payloadArb }),
  tunnelOpen: fc.record({ type: fc.constant(FrameType.tunnelOpen), tunnel: u32, timeoutMs: u32, cluster: nameArb }),
  tunnelAccept: fc.record({ type: fc.constant(FrameType.tunnelAccept), tunnel: u32, allowance: u32 }),
  tunnelData: fc.record({ type: fc.constant(FrameType.tunnelData), tunnel: u32, payload: payloadArb }),
  tunnelAllowance: fc.record({ type: fc.constant(FrameType.tunnelAllowance), tunnel: u32, bytes: u32 }),
  tunnelClose: fc.record({ type: fc.constant(FrameType.tunnelClose), tunnel: u32, code: errorCodeArb, reason: textArb }),
  ping: fc.record({ type: fc.constant(FrameType.ping), token: u32 }),
  pong: fc.record({ type: fc.constant(FrameType.pong), token: u32 }),
  close: fc.record({ type: fc.constant(FrameType.close), code: errorCodeArb, reason: textArb }),
  error: fc.record({ type: fc.constant(FrameType.error), code: errorCodeArb, message: textArb }),
  dropped: fc.record({ type: fc.constant(FrameType.dropped), topic: nameArb, count: u32 }),
  ack: fc.record({ type: fc.constant(FrameType.ack), seq: u32, code: errorCodeArb, message: textArb }),
  // Relay <-> relay frames.
  peerHello: fc.record({ type: fc.constant(FrameType.peerHello), version: u8, network: nameArb, nodeId: nameArb }),
  control: fc.record({ type: fc.constant(FrameType.control), body: payloadArb }),
} satisfies { [K in keyof typeof FrameType]: fc.Arbitrary<Extract<Frame, { type: (typeof FrameType)[K] }>> }

/** Any frame of any type. */
export const frameArb: fc.Arbitrary<Frame> = fc.oneof(...Object.values(frameArbs) as fc.Arbitrary<Frame>[])
