/**
 * What the router counts per cluster and per topic, in plain fields: the hot path adds to a
 * number it already holds, and whoever reports (metrics/, status) reads them when asked. Names
 * come from clients, so the set is bounded: past a cap, every new name counts under `other`.
 */

/** Upper bounds (ms) of the request latency buckets; one more bucket holds everything above. */
export const LATENCY_BOUNDS_MS: readonly number[] = [0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]

/** The name every cluster or topic past the cap is counted under. */
export const OTHER_NAME = 'other'

/** A latency histogram with fixed buckets (LATENCY_BOUNDS_MS): counts per bucket, not cumulative. */
export class LatencyHistogram {
  /** counts[i]: observations <= LATENCY_BOUNDS_MS[i] (and above the previous bound); the last: above all. */
  readonly counts = new Float64Array(LATENCY_BOUNDS_MS.length + 1)
  sumMs = 0
  count = 0

  observe(ms: number): void {
    let i = 0
    const bounds = LATENCY_BOUNDS_MS
    while (i < bounds.length && ms > bounds[i]!) i++
    this.counts[i]!++
    this.sumMs += ms
    this.count++
  }

  /** Adds another histogram's counts to this one. */
  add(h: LatencyHistogram): void {
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += h.counts[i]!
    this.sumMs += h.sumMs
    this.count += h.count
  }
}

/** How requests ended, counted where the router answers them. */
export interface RequestOutcomes {
  ok: number
  /** The member's handler failed (RemoteError). */
  remoteError: number
  timeout: number
  noMembers: number
  memberLost: number
  /** Refused: too large, overloaded, shutting down, invalid. */
  refused: number
}

export type Outcome = keyof RequestOutcomes

export const OUTCOMES: readonly Outcome[] = ['ok', 'remoteError', 'timeout', 'noMembers', 'memberLost', 'refused']

export function newOutcomes(): RequestOutcomes {
  return { ok: 0, remoteError: 0, timeout: 0, noMembers: 0, memberLost: 0, refused: 0 }
}

/** One cluster's requests: from local clients (with their latency) and from other relays. */
export interface ClusterStats {
  fromClients: RequestOutcomes
  fromRelays: RequestOutcomes
  /** Latency of requests from local clients, arrival to answer at this relay. */
  latency: LatencyHistogram
  broadcasts: number
}

export function newClusterStats(): ClusterStats {
  return { fromClients: newOutcomes(), fromRelays: newOutcomes(), latency: new LatencyHistogram(), broadcasts: 0 }
}

/** One topic's events at this relay. */
export interface TopicStats {
  /** Published by local clients. */
  published: number
  /** Forwarded here by other relays. */
  received: number
  /** Handed to local subscribers, and dropped for slow ones. */
  delivered: number
  dropped: number
}

export function newTopicStats(): TopicStats {
  return { published: 0, received: 0, delivered: 0, dropped: 0 }
}

/**
 * Stats by name, at most `cap` names (the `other` entry included); a name past the cap shares
 * the `other` entry. Entries are never removed, so counters only grow, as Prometheus expects.
 */
export class NamedStats<T> {
  private readonly map = new Map<string, T>()
  readonly other: T

  constructor(private readonly cap: number, private readonly make: () => T) {
    this.other = make()
    this.map.set(OTHER_NAME, this.other)
  }

  /** The entry for `name` (created while under the cap), or `other`. */
  get(name: string): T {
    const e = this.map.get(name)
    if (e !== undefined) return e
    if (this.map.size >= this.cap) return this.other
    const made = this.make()
    this.map.set(name, made)
    return made
  }

  /** Whether `name` has an entry of its own (or is "other"). */
  has(name: string): boolean {
    return this.map.has(name)
  }

  entries(): IterableIterator<[string, T]> {
    return this.map.entries()
  }

  get size(): number {
    return this.map.size
  }
}
