/**
 * The link model on virtual time with seeded randomness: every figure here is exact or a
 * statistic over thousands of draws from a fixed seed, so nothing depends on the machine.
 */
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { LinkModel, resolveSettings, seededRandom, settingsOf, type LinkConfig } from '../src/index.js'

const RUNS = Number(process.env['FC_RUNS'] ?? 100)
const params = { numRuns: RUNS, seed: process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 0x50_52_45_53 }

const model = (config: LinkConfig, seed = 7): LinkModel => new LinkModel(resolveSettings(settingsOf(config)).up, seededRandom(seed))

/** Delays of `n` segments handed over 10 s apart, so in-order delivery never binds. */
function isolatedDelays(m: LinkModel, n: number, bytes = 100): number[] {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push(m.schedule(bytes, i * 10_000).at - i * 10_000)
  return out
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length
const sd = (xs: number[]): number => {
  const m = mean(xs)
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
}

describe('link model', () => {
  it('with no pressure delivers each read whole, at once', () => {
    const m = model({})
    expect(m.transparent).toBe(true)
    expect(m.nextSize(65_536)).toBe(65_536)
    expect(m.schedule(65_536, 12.5)).toEqual({ at: 12.5, retransmits: 0 })
    expect(model({ latencyMs: 40 }).schedule(10, 100).at).toBe(140)
  })

  it('cuts segments of segmentBytes once loss, jitter or bandwidth apply', () => {
    expect(model({ loss: 0.1 }).nextSize(10_000)).toBe(1460)
    expect(model({ jitterMs: 1, segmentBytes: 500 }).nextSize(10_000)).toBe(500)
    expect(model({ bandwidth: 1e6 }).nextSize(100)).toBe(100)
  })

  it('draws delays from a normal distribution with the configured mean and deviation', () => {
    const d = isolatedDelays(model({ latencyMs: 250, jitterMs: 50 }), 20_000)
    expect(mean(d)).toBeGreaterThan(248)
    expect(mean(d)).toBeLessThan(252)
    expect(sd(d)).toBeGreaterThan(48.5)
    expect(sd(d)).toBeLessThan(51.5)
    // About 68% within one deviation, 95% within two.
    expect(d.filter((x) => Math.abs(x - 250) < 50).length / d.length).toBeCloseTo(0.683, 1)
    expect(d.filter((x) => Math.abs(x - 250) < 100).length / d.length).toBeCloseTo(0.954, 1)
  })

  it('never delivers before the segment was handed over, however large the jitter', () => {
    const d = isolatedDelays(model({ latencyMs: 5, jitterMs: 50 }), 5000)
    expect(Math.min(...d)).toBe(0)
    expect(d.filter((x) => x === 0).length).toBeGreaterThan(1000)
  })

  it('correlates successive delays as asked, keeping the deviation', () => {
    const lag1 = (xs: number[]): number => {
      const m = mean(xs)
      let num = 0
      let den = 0
      for (let i = 0; i < xs.length; i++) {
        den += (xs[i]! - m) ** 2
        if (i > 0) num += (xs[i]! - m) * (xs[i - 1]! - m)
      }
      return num / den
    }
    const corr = isolatedDelays(model({ latencyMs: 500, jitterMs: 50, correlation: 0.7 }), 20_000)
    const free = isolatedDelays(model({ latencyMs: 500, jitterMs: 50 }), 20_000)
    expect(lag1(corr)).toBeGreaterThan(0.65)
    expect(lag1(corr)).toBeLessThan(0.75)
    expect(Math.abs(lag1(free))).toBeLessThan(0.03)
    expect(sd(corr)).toBeGreaterThan(47)
    expect(sd(corr)).toBeLessThan(53)
  })

  it('holds a lost segment back by rto, then 2rto, 4rto... while retransmissions are lost', () => {
    const m = model({ loss: 0.3 })
    const rto = m.current.rtoMs
    expect(rto).toBe(200)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 20_000; i++) {
      const { at, retransmits } = m.schedule(100, i * 100_000)
      // k losses in a row: held rto * (1 + 2 + ... + 2^(k-1)) = rto * (2^k - 1).
      expect(at - i * 100_000).toBe(rto * (2 ** retransmits - 1))
      counts[Math.min(retransmits, 3)]!++
    }
    expect(counts[0]! / 20_000).toBeCloseTo(0.7, 1)
    // Each retransmission is lost again with the same probability.
    expect(counts[2]! / (counts[1]! + counts[2]! + counts[3]!)).toBeGreaterThan(0.18)
    expect(counts[2]! / (counts[1]! + counts[2]! + counts[3]!)).toBeLessThan(0.24)
    expect((counts[1]! + counts[2]! + counts[3]!) / 20_000).toBeCloseTo(0.3, 1)
  })

  it('delivers in stream order: a held-back segment delays everything behind it', () => {
    const m = model({ loss: 0.5, rtoMs: 1000 })
    const ats = Array.from({ length: 50 }, (_, i) => m.schedule(100, i))
    const firstLost = ats.findIndex((s) => s.retransmits > 0)
    expect(firstLost).toBeGreaterThanOrEqual(0)
    for (let i = firstLost; i < 50; i++) expect(ats[i]!.at).toBeGreaterThanOrEqual(firstLost + 1000)
  })

  it('never reorders, whatever the settings and arrival times', () => {
    const link = fc.record({
      latencyMs: fc.double({ min: 0, max: 500, noNaN: true }),
      jitterMs: fc.double({ min: 0, max: 500, noNaN: true }),
      correlation: fc.double({ min: 0, max: 0.99, noNaN: true }),
      loss: fc.double({ min: 0, max: 0.9, noNaN: true }),
      bandwidth: fc.oneof(fc.constant(Infinity), fc.double({ min: 100, max: 1e9, noNaN: true })),
      sliceBytes: fc.integer({ min: 0, max: 100 }),
      sliceGapMs: fc.double({ min: 0, max: 5, noNaN: true }),
    })
    fc.assert(fc.property(link, fc.array(fc.tuple(fc.double({ min: 0, max: 50, noNaN: true }), fc.integer({ min: 1, max: 3000 })), { maxLength: 200 }), fc.integer(), (cfg, steps, seed) => {
      const m = model(cfg, seed)
      let now = 0
      let last = -Infinity
      for (const [dt, bytes] of steps) {
        now += dt
        const { at } = m.schedule(m.nextSize(bytes), now)
        expect(at).toBeGreaterThanOrEqual(now)
        expect(at).toBeGreaterThanOrEqual(last)
        last = at
      }
    }), params)
  })

  it('lets a burst through at once, then paces at the configured rate', () => {
    const m = model({ bandwidth: 100_000, burstBytes: 10_000, segmentBytes: 1000 })
    const ats = Array.from({ length: 110 }, () => m.schedule(1000, 0).at)
    expect(ats.slice(0, 10)).toEqual(Array(10).fill(0))
    // After the burst, one 1000-byte segment per 10 ms (100 kB/s), exactly.
    for (let i = 10; i < 110; i++) expect(ats[i]).toBeCloseTo((i - 9) * 10, 9)
    // An idle link refills its bucket.
    expect(m.schedule(1000, 10_000).at).toBe(10_000)
  })

  it('slices into pieces of 1..sliceBytes, at least sliceGapMs apart', () => {
    const m = model({ sliceBytes: 7, sliceGapMs: 2 })
    const sizes = Array.from({ length: 2000 }, () => m.nextSize(1_000_000))
    expect(Math.min(...sizes)).toBe(1)
    expect(Math.max(...sizes)).toBe(7)
    expect(new Set(sizes).size).toBe(7)
    const ats = sizes.slice(0, 100).map((n) => m.schedule(n, 0).at)
    for (let i = 1; i < ats.length; i++) expect(ats[i]! - ats[i - 1]!).toBe(2)
  })

  it('after restart(), schedules from the new time on', () => {
    const m = model({ latencyMs: 10, bandwidth: 1000 })
    for (let i = 0; i < 100; i++) m.schedule(1460, 0)
    m.restart(500)
    expect(m.schedule(100, 500).at).toBe(510)
  })
})
