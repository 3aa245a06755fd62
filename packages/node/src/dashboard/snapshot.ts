/**
 * The network as the dashboard draws it, computed from relays' statuses taken one tick apart:
 * relays and their links, clusters and topics per relay, rates (events/s, requests/s, p99) and
 * what failed lately. Pure functions over RelayStatus values, tested in memory.
 */
import type { RelayStatus } from '../status.js'

export interface Rates {
  /** Events published by local clients, per second. */
  published: number
  /** Events handed to local subscribers, per second. */
  delivered: number
  /** Requests from local clients answered (or failed), per second. */
  requests: number
  /** 99th percentile latency of those requests over the tick, ms; null without requests. */
  p99Ms: number | null
}

export interface RelayView {
  id: string
  self: boolean
  /** Its status could be read this tick (otherwise the last one known is shown). */
  reachable: boolean
  /** Relays that suspect it now. */
  suspectedBy: string[]
  clients: number
  uptimeMs: number
  rssBytes: number
  rates: Rates
  clusters: RelayStatus['clusters']
  topics: RelayStatus['topics']
}

export interface LinkView {
  /** The relay that reported it, and the other end. */
  from: string
  to: string
  /** Round trip, ms (-1: not a neighbor, no pings). */
  rttMs: number
  /** Bytes waiting to be sent from `from` to `to`. */
  backlog: number
  /** Bytes per second, both ways, over the tick. */
  bytesPerSec: number
}

export interface Failure {
  t: number
  relay: string
  what: string
}

export interface Point {
  t: number
  published: number
  delivered: number
  requests: number
  p99Ms: number | null
}

export interface NetworkSnapshot {
  t: number
  network: string
  self: string
  relays: RelayView[]
  links: LinkView[]
  totals: Point
  failures: Failure[]
}

/** One relay's status at a time (its own clock is not used: ticks are timed here). */
export interface Sample {
  t: number
  status: RelayStatus
  reachable: boolean
}

/** The q-quantile (0..1) of the requests counted in `counts` (per bucket, last: above all bounds). */
export function quantileMs(boundsMs: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((a, b) => a + b, 0)
  if (total <= 0) return null
  const rank = q * total
  let seen = 0
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!
    if (c > 0 && seen + c >= rank) {
      if (i >= boundsMs.length) return boundsMs[boundsMs.length - 1]!
      const lo = i === 0 ? 0 : boundsMs[i - 1]!
      return lo + (boundsMs[i]! - lo) * ((rank - seen) / c)
    }
    seen += c
  }
  return boundsMs[boundsMs.length - 1]!
}

function delta(now: Sample, before: Sample | undefined, key: string): number {
  if (before === undefined) return 0
  return Math.max(0, (now.status.counters[key] ?? 0) - (before.status.counters[key] ?? 0))
}

function latencyDelta(now: RelayStatus, before: RelayStatus | undefined): number[] {
  const a = now.latency.counts
  if (before === undefined || before.latency.counts.length !== a.length) return a.map(() => 0)
  return a.map((c, i) => Math.max(0, c - before.latency.counts[i]!))
}

/** Rates of one relay between two samples. */
export function ratesOf(now: Sample, before: Sample | undefined): Rates {
  const dt = before === undefined ? 0 : (now.t - before.t) / 1000
  if (dt <= 0) return { published: 0, delivered: 0, requests: 0, p99Ms: null }
  return {
    published: delta(now, before, 'publishedByClients') / dt,
    delivered: delta(now, before, 'delivered') / dt,
    requests: delta(now, before, 'requestsFromClients') / dt,
    p99Ms: quantileMs(now.status.latency.boundsMs, latencyDelta(now.status, before?.status), 0.99),
  }
}

/** Counters whose growth is a failure worth a line: key, then what one and several are called. */
const FAILURE_COUNTERS: ReadonlyArray<[string, string, string]> = [
  ['timeouts', 'request timed out', 'requests timed out'], ['membersLost', 'request lost its member', 'requests lost their member'],
  ['noMembers', 'request with no member', 'requests with no member'], ['failures', 'failed request', 'failed requests'],
  ['dropped', 'event dropped', 'events dropped'], ['protocolErrors', 'client cut for a protocol error', 'clients cut for protocol errors'],
  ['deathsDeclared', 'relay declared dead', 'relays declared dead'], ['suspicions', 'suspicion', 'suspicions'],
]

/** What went wrong at one relay between two samples: counters that grew, warnings it logged. */
export function failuresOf(now: Sample, before: Sample | undefined): Failure[] {
  if (before === undefined) return []
  const relay = now.status.nodeId
  const grew: string[] = []
  for (const [key, one, several] of FAILURE_COUNTERS) {
    const n = key === 'protocolErrors' ? Math.max(0, now.status.protocolErrors - before.status.protocolErrors) : delta(now, before, key)
    if (n > 0) grew.push(`${n} ${n === 1 ? one : several}`)
  }
  const out: Failure[] = grew.length > 0 ? [{ t: now.t, relay, what: grew.join(', ') }] : []
  const since = before.status.recent.at(-1)?.t ?? -Infinity
  for (const e of now.status.recent) if (e.t > since) out.push({ t: e.t, relay, what: `${e.event}: ${e.msg}` })
  return out
}

/** The snapshot of the network from this tick's samples and the previous tick's. */
export function buildSnapshot(init: { t: number; network: string; self: string; now: Sample[]; before: Map<string, Sample> }): Omit<NetworkSnapshot, 'failures'> {
  const suspectedBy = new Map<string, string[]>()
  for (const s of init.now) {
    if (!s.reachable) continue
    for (const p of s.status.peers) if (p.suspected) suspectedBy.set(p.nodeId, [...(suspectedBy.get(p.nodeId) ?? []), s.status.nodeId])
  }
  const totals: Point = { t: init.t, published: 0, delivered: 0, requests: 0, p99Ms: null }
  const buckets: number[] = []
  let bounds: readonly number[] = []
  const relays = init.now.map((s): RelayView => {
    const before = init.before.get(s.status.nodeId)
    const rates = s.reachable ? ratesOf(s, before) : { published: 0, delivered: 0, requests: 0, p99Ms: null }
    totals.published += rates.published
    totals.delivered += rates.delivered
    totals.requests += rates.requests
    if (s.reachable) {
      bounds = s.status.latency.boundsMs
      latencyDelta(s.status, before?.status).forEach((c, i) => { buckets[i] = (buckets[i] ?? 0) + c })
    }
    return {
      id: s.status.nodeId, self: s.status.nodeId === init.self, reachable: s.reachable, suspectedBy: suspectedBy.get(s.status.nodeId) ?? [],
      clients: s.status.clients, uptimeMs: s.status.uptimeMs, rssBytes: s.status.rssBytes, rates,
      clusters: s.status.clusters, topics: s.status.topics,
    }
  })
  totals.p99Ms = quantileMs(bounds, buckets, 0.99)
  const links: LinkView[] = []
  for (const s of init.now) {
    const before = init.before.get(s.status.nodeId)
    const dt = before === undefined ? 0 : (s.t - before.t) / 1000
    for (const l of s.status.links) {
      const prev = before?.status.links.find((x) => x.nodeId === l.nodeId)
      const moved = prev === undefined || dt <= 0 ? 0 : Math.max(0, l.bytesIn + l.bytesOut - prev.bytesIn - prev.bytesOut) / dt
      links.push({ from: s.status.nodeId, to: l.nodeId, rttMs: l.rttMs, backlog: l.backlog, bytesPerSec: moved })
    }
  }
  return { t: init.t, network: init.network, self: init.self, relays, links, totals }
}
