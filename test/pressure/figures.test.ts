/** The tier's measuring logic, on made-up data: if these lie, every scenario's verdict does. */
import { describe, expect, it } from 'vitest'
import { percentile, recoveryMs, requestFigures, streamFigures, streamItems, viewFigures, viewsRecoveryMs, type ViewSample } from './figures.js'
import type { AgentReport } from './report.js'

const item = (t: number, ok: boolean, doneAt = t + 10): { t: number; ok: boolean; doneAt: number } => ({ t, ok, doneAt: ok ? doneAt : Infinity })

describe('recoveryMs', () => {
  it('is the first success after the last failure sent after the heal', () => {
    const items = [item(900, false), item(1000, false), item(1100, true), item(1200, false), item(1300, true, 1350), item(1400, true)]
    expect(recoveryMs(items, 1000)).toBe(350)
  })
  it('is the first success when nothing failed after the heal, and Infinity when nothing succeeded', () => {
    expect(recoveryMs([item(500, false), item(1050, true, 1060)], 1000)).toBe(60)
    expect(recoveryMs([item(1050, true), item(1100, false)], 1000)).toBe(Infinity)
  })
})

describe('requests and streams', () => {
  it('counts outcomes, unsettled requests, and percentiles of successes only', () => {
    const f = requestFigures([{ cluster: 'x', timeoutMs: 1, outstanding: 1, skipped: 0, records: [
      { t: 0, settled: 10, outcome: 'ok' }, { t: 0, settled: 30, outcome: 'ok' }, { t: 0, settled: 1000, outcome: 'TIMEOUT' },
    ] }])
    expect(f).toMatchObject({ sent: 4, ok: 2, unsettled: 1, failures: { TIMEOUT: 1 }, p50Ms: 10, p99Ms: 30, maxMs: 30 })
    expect(percentile([5, 1, 3, 2, 4], 50)).toBe(3)
  })

  it('counts a stream per sender and receiver on another relay: lost, duplicated, out of order', () => {
    const report = (tag: string, sent: number, tracks: AgentReport['topics']['ev']): AgentReport => ({
      tag, requests: [], published: Array.from({ length: sent }, (_, i) => i * 10), publishErrors: 0, broadcastsSent: [], topics: { ev: tracks },
      eventsMalformed: 0, eventsDropped: 0, broadcasts: {}, broadcastsDropped: 0, served: { requests: 0, tunnels: 0, tunnelMessages: 0 }, tunnel: undefined,
    })
    const a = report('A', 3, { B: { received: 2, duplicates: 1, outOfOrder: 1, maxSeq: 1, arrivals: [[1, 15], [0, 16]] } })
    const b = report('B', 2, { A: { received: 3, duplicates: 0, outOfOrder: 0, maxSeq: 2, arrivals: [[0, 5], [1, 15], [2, 25]] } })
    expect(streamFigures([a, b], (r) => r.published, (r) => r.topics['ev']!)).toEqual({ expected: 5, delivered: 5, lost: 0, duplicates: 1, outOfOrder: 1 })
    expect(streamItems([0, 10, 20], { received: 2, duplicates: 0, outOfOrder: 0, maxSeq: 2, arrivals: [[0, 5], [2, 25]] }).map((x) => x.ok)).toEqual([true, false, true])
  })
})

describe('views', () => {
  const s = (t: number, observer: string, present: string[], suspected: string[] = [], answered = true): ViewSample => ({ t, observer, answered, present, suspected, rssBytes: 0 })
  const names = ['A', 'B', 'C']

  it('counts departures from one sample to the next, incomplete and suspecting samples; skips silent relays', () => {
    const samples = [
      s(0, 'A', ['B', 'C']), s(0, 'B', ['A', 'C']), s(0, 'C', ['A', 'B']),
      s(1, 'A', ['B'], []), s(1, 'B', ['A', 'C'], ['C']), s(1, 'C', [], [], false),
      s(2, 'A', ['B', 'C']), s(2, 'B', ['A', 'C']), s(2, 'C', ['A', 'B']),
    ]
    expect(viewFigures(samples, names)).toEqual({ samples: 8, departures: 1, incompleteSamples: 1, suspectedSamples: 1 })
  })

  it('recovers at the first round from which every view stays complete', () => {
    const round = (t: number, ok: boolean): ViewSample[] => names.map((n) => s(t, n, names.filter((x) => x !== n), ok ? [] : ['C']))
    expect(viewsRecoveryMs([...round(100, false), ...round(200, true), ...round(300, false), ...round(400, true), ...round(500, true)], names, 100)).toBe(300)
    expect(viewsRecoveryMs(round(200, false), names, 100)).toBe(Infinity)
  })
})
