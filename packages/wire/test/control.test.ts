// The relay-to-relay control codec (packages/wire/src/control.ts): every message round-trips,
// and hostile bytes (random, mutated, truncated, over-limit) give a message or a WireError —
// never another exception, never a message that encodes differently.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { CONTROL_LIMITS, Liveness, WireError, decodeControl, encodeControl, type ControlMessage, type Delta } from '../src/index.js'
import { nameArb } from './arbitraries.js'

const params = { numRuns: 400, seed: process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 0x4354_524c }

const seq = fc.nat({ max: Number.MAX_SAFE_INTEGER })
const version = fc.oneof(fc.nat({ max: 1000 }), fc.integer({ min: 1_700_000_000_000_000, max: Number.MAX_SAFE_INTEGER - 1 }))
const addr = fc.string({ maxLength: 120 })

const deltaArb: fc.Arbitrary<Delta> = fc.record({
  node: nameArb,
  base: fc.nat({ max: 1_000_000 }),
  step: fc.integer({ min: 1, max: 1_000_000 }),
  addrs: fc.option(fc.array(addr, { maxLength: 4 }), { nil: undefined }),
  clusters: fc.option(fc.array(fc.tuple(nameArb, fc.nat({ max: 100_000 })), { maxLength: 5 }), { nil: undefined }),
  topics: fc.option(fc.array(fc.tuple(nameArb, fc.boolean()), { maxLength: 5 }), { nil: undefined }),
}).map(({ node, base, step, addrs, clusters, topics }) => ({
  node, base, version: base + step,
  ...(addrs !== undefined ? { addrs } : {}),
  ...(clusters !== undefined ? { clusters } : {}),
  ...(topics !== undefined ? { topics } : {}),
}))

const noteArb = fc.record({
  node: nameArb,
  version,
  status: fc.constantFrom(Liveness.suspect, Liveness.dead),
  from: nameArb,
})

const messageArb: fc.Arbitrary<ControlMessage> = fc.oneof(
  fc.record({ t: fc.constant('ping' as const), seq, degree: fc.nat({ max: 64 }) }),
  fc.record({ t: fc.constant('ping' as const), seq, degree: fc.nat({ max: 64 }), neighbors: fc.array(nameArb, { maxLength: 8 }) }),
  fc.record({ t: fc.constant('pong' as const), seq }),
  fc.record({ t: fc.constant('neighbor' as const), high: fc.boolean() }),
  fc.record({ t: fc.constant('neighbor-reply' as const), accepted: fc.boolean() }),
  fc.constant({ t: 'disconnect' as const }),
  fc.constant({ t: 'sync' as const }),
  fc.record({ t: fc.constant('probe-req' as const), node: nameArb, seq }),
  fc.record({ t: fc.constant('probe' as const), seq }),
  fc.record({ t: fc.constant('probe-ack' as const), seq }),
  fc.record({ t: fc.constant('probe-reply' as const), node: nameArb, seq, alive: fc.boolean() }),
  fc.record({ t: fc.constant('gossip' as const), deltas: fc.array(deltaArb, { maxLength: 4 }), notes: fc.array(noteArb, { maxLength: 4 }) }),
  fc.record({ t: fc.constant('gossip' as const), deltas: fc.array(deltaArb, { maxLength: 4 }), notes: fc.array(noteArb, { maxLength: 4 }), sync: fc.constant(true as const) }),
  fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 64 }).map((b) => ({ t: 'digest' as const, buckets: Uint32Array.from(b) })),
  fc.record({
    t: fc.constant('digest-detail' as const),
    buckets: fc.array(fc.nat({ max: 255 }), { maxLength: 8 }),
    items: fc.array(fc.record({ node: nameArb, version, statusVersion: version, status: fc.constantFrom(Liveness.alive, Liveness.suspect, Liveness.dead) }), { maxLength: 4 }),
  }),
  fc.record({ t: fc.constant('pull' as const), nodes: fc.array(nameArb, { maxLength: 6 }) }),
)

function decodes(bytes: Uint8Array): ControlMessage | WireError {
  try {
    return decodeControl(bytes)
  } catch (err) {
    if (err instanceof WireError) return err
    throw err
  }
}

describe('control messages (relay to relay)', () => {
  it('every message decodes to what was encoded', () => {
    fc.assert(fc.property(messageArb, (m) => {
      expect(decodeControl(encodeControl(m))).toEqual(m)
    }), params)
  })

  it('random and mutated bytes give a message that re-encodes to the same bytes, or a WireError', () => {
    const samples = fc.sample(messageArb.map(encodeControl), { numRuns: 200, seed: 7 })
    const mutated = fc.oneof(
      fc.uint8Array({ maxLength: 200 }),
      fc.tuple(fc.constantFrom(...samples), fc.nat(), fc.nat({ max: 255 })).map(([b, at, v]) => {
        const c = b.slice()
        if (c.length > 0) c[at % c.length] = v
        return c
      }),
      fc.tuple(fc.constantFrom(...samples), fc.nat()).map(([b, n]) => b.subarray(0, n % (b.length + 1))),
    )
    let messages = 0
    let errors = 0
    fc.assert(fc.property(mutated, (bytes) => {
      const r = decodes(bytes)
      if (r instanceof WireError) {
        errors++
      } else {
        messages++
        expect(encodeControl(r)).toEqual(bytes)
      }
    }), { ...params, numRuns: 5000 })
    // Both outcomes occur: the generator is not trivially one-sided.
    expect(messages).toBeGreaterThan(0)
    expect(errors).toBeGreaterThan(0)
  })

  it('refuses counts past the limits before allocating for them', () => {
    // A gossip message claiming 2^40 items: rejected from the count alone.
    const huge = Uint8Array.from([10, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20])
    const err = decodes(huge)
    expect(err).toBeInstanceOf(WireError)
    expect(() => encodeControl({ t: 'pull', nodes: Array.from({ length: CONTROL_LIMITS.maxItems + 1 }, () => 'n') })).toThrow(WireError)
    expect(() => encodeControl({ t: 'ping', seq: 1, degree: 1, neighbors: Array.from({ length: CONTROL_LIMITS.maxNeighbors + 1 }, () => 'n') })).toThrow(WireError)
  })

  it('refuses a delta that does not raise the version, unknown kinds, statuses and trailing bytes', () => {
    const d = encodeControl({ t: 'gossip', deltas: [{ node: 'a', base: 5, version: 6 }], notes: [] })
    const view = new DataView(d.buffer, d.byteOffset)
    // Set the delta's version (after kind, sync flag, counts and the name) equal to its base.
    const at = 1 + 1 + 1 + 1 + 2
    view.setFloat64(at + 8, 5)
    expect(decodes(d)).toBeInstanceOf(WireError)
    expect(decodes(Uint8Array.from([99]))).toBeInstanceOf(WireError)
    expect(decodes(Uint8Array.from([15]))).toBeInstanceOf(WireError)
    const note = encodeControl({ t: 'gossip', deltas: [], notes: [{ node: 'a', version: 1, status: Liveness.dead, from: 'b' }] })
    const bad = note.slice()
    bad[bad.length - 3] = 7 // the status byte
    expect(decodes(bad)).toBeInstanceOf(WireError)
    expect(decodes(Uint8Array.from([...encodeControl({ t: 'sync' }), 0]))).toBeInstanceOf(WireError)
  })
})
