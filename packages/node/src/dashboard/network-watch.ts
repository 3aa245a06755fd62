/**
 * dashboard/ — the live web dashboard: the network seen from this relay (network-watch.ts:
 * every tick, this relay's status and that of the other relays in its view, asked over the
 * overlay), turned into snapshots (snapshot.ts), pushed to browsers by server-sent events
 * (sse.ts), with static pages served from the package (routes.ts, ../../dashboard/).
 */
import type { Clock, Timer } from '../clock.js'
import type { RelayStatus } from '../status.js'
import { buildSnapshot, failuresOf, type Failure, type NetworkSnapshot, type Point, type Sample } from './snapshot.js'

export interface NetworkWatchInit {
  network: string
  self: string
  clock: Clock
  /** This relay's status now. */
  status: () => RelayStatus
  /** Another relay's status (asked over the overlay); rejects when it cannot be had. */
  remoteStatus: (node: string, timeoutMs: number) => Promise<RelayStatus>
  /** Each tick's snapshot. */
  onSnapshot: (s: NetworkSnapshot, p: Point) => void
  /** Browsers watching now: while there are none (and no script asked lately), nothing is asked. */
  viewers: () => number
  /** Ticks (default 1 s). */
  intervalMs?: number
  /** Relays asked per tick at most, this one included (default 32): the dashboard of a large network shows the part nearest to it. */
  maxRelays?: number
  /** Points of history kept (default 300: five minutes at one a second). */
  historyPoints?: number
}

/** After a request for the snapshot, how long ticks go on without a browser watching. */
const KEEP_AWAKE_MS = 30_000

/**
 * Asks the relays of the network for their status once a tick and keeps the latest snapshot,
 * a bounded history of the totals and of recent failures. Ticks do not overlap: a slow relay
 * is given up on (it shows as unreachable) before the next one. It ticks only while someone
 * watches: asking other relays opens links to them, which a relay should not hold for nobody.
 */
export class NetworkWatch {
  private readonly init: NetworkWatchInit
  private readonly intervalMs: number
  private timer: Timer | undefined
  private running = false
  private busy = false
  private before = new Map<string, Sample>()
  private readonly points: Point[] = []
  private readonly failures: Failure[] = []
  private latest: NetworkSnapshot | undefined
  private touchedAt = -Infinity

  constructor(init: NetworkWatchInit) {
    this.init = init
    this.intervalMs = init.intervalMs ?? 1000
  }

  /** The relay is up: ticks may run (when someone watches). */
  start(): void {
    this.running = true
  }

  stop(): void {
    this.running = false
    this.sleep()
  }

  /** Someone watches (a browser connected, a script asked): ticking starts now if it was asleep; resolves after that first tick. */
  async wake(): Promise<void> {
    this.touchedAt = this.init.clock.now()
    if (this.timer !== undefined || !this.running) return
    this.timer = this.init.clock.setInterval(() => {
      if (this.init.viewers() > 0 || this.init.clock.now() - this.touchedAt < KEEP_AWAKE_MS) void this.tick()
      else this.sleep()
    }, this.intervalMs)
    this.timer.unref?.()
    await this.tick()
  }

  private sleep(): void {
    this.init.clock.clearInterval(this.timer)
    this.timer = undefined
  }

  snapshot(): NetworkSnapshot | undefined {
    return this.latest
  }

  history(): Point[] {
    return [...this.points]
  }

  /** One round: every relay's status, then the snapshot. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.busy || !this.running) return
    this.busy = true
    try {
      const { clock } = this.init
      // Every sample of a tick is dated at its start, so rates divide by the tick's length
      // (not by how long the slowest relay took to answer).
      const t = clock.now()
      const own = this.init.status()
      const others = pickRelays(own, (this.init.maxRelays ?? 32) - 1)
      const timeoutMs = Math.max(100, Math.floor(this.intervalMs * 0.8))
      const asked = await Promise.all(others.map(async (node): Promise<Sample | undefined> => {
        try {
          return { t, status: await this.init.remoteStatus(node, timeoutMs), reachable: true }
        } catch {
          const last = this.before.get(node)
          return last === undefined ? undefined : { ...last, t, reachable: false }
        }
      }))
      if (!this.running) return
      const now: Sample[] = [{ t, status: own, reachable: true }, ...asked.filter((s): s is Sample => s !== undefined)]
      const snap = buildSnapshot({ t, network: this.init.network, self: this.init.self, now, before: this.before })
      for (const s of now) {
        const before = this.before.get(s.status.nodeId)
        if (!s.reachable && before?.reachable === true) this.fail({ t, relay: s.status.nodeId, what: 'its status could not be read (unreachable or too slow)' })
        if (s.reachable) for (const f of failuresOf(s, before)) this.fail(f)
      }
      this.before = new Map(now.map((s) => [s.status.nodeId, s]))
      this.points.push(snap.totals)
      if (this.points.length > (this.init.historyPoints ?? 300)) this.points.shift()
      this.latest = { ...snap, failures: [...this.failures] }
      this.init.onSnapshot(this.latest, snap.totals)
    } finally {
      this.busy = false
    }
  }

  private fail(f: Failure): void {
    this.failures.push(f)
    if (this.failures.length > 50) this.failures.shift()
  }
}

/** The relays to ask: linked ones first (the neighborhood), then the rest of the view. */
function pickRelays(own: RelayStatus, max: number): string[] {
  const linked = own.peers.filter((p) => p.connected).map((p) => p.nodeId)
  const rest = own.peers.filter((p) => !p.connected).map((p) => p.nodeId)
  return [...linked, ...rest].slice(0, Math.max(0, max))
}
