/**
 * Order and content, byte for byte, through real sockets: random settings (every toxic but
 * reset), random write sizes, both directions at once (an echo target), and random live
 * orders during the transfer (reconfigure, stall, partition then heal, one way or both).
 * Seeded: FC_SEED=<n> explores other cases, FC_RUNS=<n> more of them.
 */
import { afterAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { chunked, closeAll, dial, payload, readAll, sleep, startProxy, startTarget, until, writeAll } from './helpers.js'
import { seededRandom, type LinkConfig, type PressureProxy } from '../src/index.js'

afterAll(closeAll)

const RUNS = Number(process.env['FC_RUNS'] ?? 12)
const params = { numRuns: RUNS, seed: process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 0x70_72_65_73, endOnFailure: true, timeout: 20_000 }

// Small enough that a run takes well under a second, large enough for many segments.
const linkArb: fc.Arbitrary<LinkConfig> = fc.record({
  latencyMs: fc.integer({ min: 0, max: 20 }),
  jitterMs: fc.integer({ min: 0, max: 15 }),
  correlation: fc.double({ min: 0, max: 0.9, noNaN: true }),
  loss: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 0.08, noNaN: true })),
  bandwidth: fc.oneof(fc.constant(Infinity), fc.integer({ min: 400_000, max: 20_000_000 })),
  segmentBytes: fc.integer({ min: 1, max: 3000 }),
  sliceBytes: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4000 })),
  sliceGapMs: fc.double({ min: 0, max: 1, noNaN: true }),
  bufferBytes: fc.oneof(fc.constant(undefined), fc.integer({ min: 1, max: 300_000 })),
}, { requiredKeys: [] }).map(({ sliceGapMs, ...l }) =>
  // A gap between tiny slices would make a run last minutes: gaps only with big slices.
  (l.sliceBytes ?? 0) >= 1000 && sliceGapMs !== undefined ? { ...l, sliceGapMs } : l)

type Order =
  | { kind: 'configure'; link: LinkConfig }
  | { kind: 'stall'; ms: number; direction: 'up' | 'down' | 'both' }
  | { kind: 'partition'; ms: number; direction: 'up' | 'down' | 'both' }

const orderArb: fc.Arbitrary<Order> = fc.oneof(
  fc.record({ kind: fc.constant('configure' as const), link: linkArb }),
  fc.record({ kind: fc.constant('stall' as const), ms: fc.integer({ min: 1, max: 60 }), direction: fc.constantFrom('up' as const, 'down' as const, 'both' as const) }),
  fc.record({ kind: fc.constant('partition' as const), ms: fc.integer({ min: 1, max: 60 }), direction: fc.constantFrom('up' as const, 'down' as const, 'both' as const) }),
)

async function apply(proxy: PressureProxy, orders: Array<[number, Order]>): Promise<void> {
  for (const [delay, o] of orders) {
    await sleep(delay)
    if (o.kind === 'configure') proxy.configure(o.link)
    else if (o.kind === 'stall') proxy.stall(o.ms, { direction: o.direction })
    else {
      proxy.partition({ direction: o.direction })
      await sleep(o.ms)
      proxy.heal()
    }
  }
}

describe('byte for byte through the proxy', () => {
  it('under random settings, write sizes and live orders, both directions arrive intact and in order', async () => {
    const target = await startTarget('echo')
    await fc.assert(fc.asyncProperty(
      fc.record({ both: linkArb, up: linkArb, down: linkArb }, { requiredKeys: ['both'] }),
      fc.integer({ min: 0, max: 120_000 }),
      fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 8 }),
      fc.array(fc.tuple(fc.integer({ min: 0, max: 30 }), orderArb), { maxLength: 4 }),
      fc.integer(),
      async ({ both, up, down }, size, sizes, orders, seed) => {
        const proxy = await startProxy(target, { config: { ...both, up, down }, random: seededRandom(seed) })
        try {
          const data = payload(size, seed)
          const s = await dial(proxy.port)
          const back = readAll(s)
          await Promise.all([writeAll(s, chunked(data, sizes)), apply(proxy, orders)])
          const got = await back
          expect(got.length).toBe(data.length)
          expect(got.equals(data)).toBe(true)
          const [info] = proxy.connections({ closed: true })
          expect(info).toBeDefined()
          for (const dir of [info!.up, info!.down]) {
            expect(dir.bytesIn).toBe(size)
            expect(dir.bytesOut).toBe(size)
            expect(dir.discardedBytes).toBe(0)
          }
        } finally {
          await proxy.close()
        }
      },
    ), params)
  }, 120_000)

  it('passes a FIN on after the bytes before it, each direction on its own (half-close)', async () => {
    const target = await startTarget('record')
    const proxy = await startProxy(target, { config: { latencyMs: 30, jitterMs: 10, sliceBytes: 500 } })
    const s = await dial(proxy.port)
    const data = payload(50_000, 3)
    const reply = payload(20_000, 4)
    const back = readAll(s)
    await writeAll(s, [data])
    // The target sees every byte, then the FIN, and may still answer on its own side.
    await until(() => target.accepted.length === 1, 'the target to accept')
    const server = target.accepted[0]!
    await new Promise<void>((r) => server.once('end', () => r()))
    expect(Buffer.concat(target.received[0]!).equals(data)).toBe(true)
    server.end(reply)
    expect((await back).equals(reply)).toBe(true)
  })
})
