/**
 * The figures of a scenario, computed from what the agents reported and what the relays said
 * while it ran. Pure functions: no I/O, no clock.
 */
import type { AgentReport, RequestLoopReport } from './report.js'
import type { SenderTrack } from './agent-loops.js'

/** One thing sent: when, whether it got through, and when that was seen. */
export interface Item { t: number; ok: boolean; doneAt: number }

/**
 * How long after `healAt` a pattern was back for good: the time its first success was seen
 * among the items sent after the last failure that was sent after `healAt` (or after `healAt`
 * itself when nothing failed). Infinity when nothing sent after that got through.
 */
export function recoveryMs(items: readonly Item[], healAt: number): number {
  const after = items.filter((x) => x.t >= healAt).sort((a, b) => a.t - b.t)
  let lastFail = -1
  for (const [i, x] of after.entries()) if (!x.ok) lastFail = i
  const first = after.slice(lastFail + 1).find((x) => x.ok)
  return first === undefined ? Infinity : Math.max(0, first.doneAt - healAt)
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!
}

export interface RequestFigures {
  sent: number
  ok: number
  successRate: number
  /** Failures by error code ("timeout", "noMembers"... "untyped" for an error that is not a HeraldError). */
  failures: Record<string, number>
  /** Still outstanding when the agent stopped waiting (a hang). */
  unsettled: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

export function requestFigures(loops: readonly RequestLoopReport[]): RequestFigures {
  const records = loops.flatMap((l) => l.records)
  const ok = records.filter((r) => r.outcome === 'ok')
  const failures: Record<string, number> = {}
  for (const r of records) if (r.outcome !== 'ok') failures[r.outcome] = (failures[r.outcome] ?? 0) + 1
  const unsettled = loops.reduce((s, l) => s + l.outstanding, 0)
  const sent = records.length + unsettled
  const lat = ok.map((r) => r.settled - r.t)
  const round = (x: number): number => (Number.isFinite(x) ? Math.round(x) : x)
  return {
    sent, ok: ok.length, successRate: sent === 0 ? NaN : ok.length / sent, failures, unsettled,
    p50Ms: round(percentile(lat, 50)), p99Ms: round(percentile(lat, 99)), maxMs: round(lat.length === 0 ? NaN : Math.max(...lat)),
  }
}

export interface StreamFigures {
  /** Sent by every sender, counted once per receiver on another relay. */
  expected: number
  delivered: number
  lost: number
  duplicates: number
  outOfOrder: number
}

/**
 * Sequence streams (events or broadcasts) between relays: each sender's stream as each agent
 * on another relay received it. `sentOf` gives a sender's send times, `tracksOf` a receiver's
 * tracks by sender tag.
 */
export function streamFigures(reports: readonly AgentReport[], sentOf: (r: AgentReport) => number[], tracksOf: (r: AgentReport) => Record<string, SenderTrack>): StreamFigures {
  const f: StreamFigures = { expected: 0, delivered: 0, lost: 0, duplicates: 0, outOfOrder: 0 }
  for (const sender of reports) {
    for (const receiver of reports) {
      if (receiver === sender) continue
      const sent = sentOf(sender).length
      const track = tracksOf(receiver)[sender.tag]
      f.expected += sent
      f.delivered += track?.received ?? 0
      f.duplicates += track?.duplicates ?? 0
      f.outOfOrder += track?.outOfOrder ?? 0
      f.lost += sent - (track?.received ?? 0)
    }
  }
  return f
}

/** Items of one sender's stream as one receiver saw it (for recoveryMs). */
export function streamItems(sentTimes: readonly number[], track: SenderTrack | undefined): Item[] {
  const arrived = new Map((track?.arrivals ?? []).map(([seq, t]) => [seq, t]))
  return sentTimes.map((t, seq) => ({ t, ok: arrived.has(seq), doneAt: arrived.get(seq) ?? Infinity }))
}

/** Requests as items. */
export function requestItems(loop: RequestLoopReport): Item[] {
  return loop.records.map((r) => ({ t: r.t, ok: r.outcome === 'ok', doneAt: r.settled }))
}

/** One poll of one relay's status during the run. */
export interface ViewSample {
  t: number
  observer: string
  /** False when the relay did not answer (frozen). */
  answered: boolean
  /** The other relays (names) it lists, and those it suspects. */
  present: string[]
  suspected: string[]
  rssBytes: number
}

export interface ViewFigures {
  samples: number
  /** Times a relay's view lost another relay that was there at its previous sample. */
  departures: number
  /** Samples in which a view lacked a relay, or suspected one. */
  incompleteSamples: number
  suspectedSamples: number
}

export function viewFigures(samples: readonly ViewSample[], names: readonly string[]): ViewFigures {
  const f: ViewFigures = { samples: 0, departures: 0, incompleteSamples: 0, suspectedSamples: 0 }
  const last = new Map<string, Set<string>>()
  for (const s of samples) {
    if (!s.answered) continue
    f.samples++
    const others = names.filter((n) => n !== s.observer)
    if (others.some((n) => !s.present.includes(n))) f.incompleteSamples++
    if (s.suspected.length > 0) f.suspectedSamples++
    const before = last.get(s.observer)
    if (before !== undefined) for (const n of before) if (!s.present.includes(n)) f.departures++
    last.set(s.observer, new Set(s.present))
  }
  return f
}

/** When every answering view was complete and unsuspecting again, for good, after `healAt`. */
export function viewsRecoveryMs(samples: readonly ViewSample[], names: readonly string[], healAt: number): number {
  const byTime = new Map<number, ViewSample[]>()
  for (const s of samples) if (s.t >= healAt) byTime.set(s.t, [...(byTime.get(s.t) ?? []), s])
  const rounds = [...byTime.entries()].sort((a, b) => a[0] - b[0])
  const complete = (round: ViewSample[]): boolean => round.length === names.length && round.every((s) => s.answered && s.suspected.length === 0 && names.every((n) => n === s.observer || s.present.includes(n)))
  let firstGood: number | undefined
  for (const [t, round] of rounds) {
    if (complete(round)) firstGood ??= t
    else firstGood = undefined
  }
  return firstGood === undefined ? Infinity : firstGood - healAt
}
