import type { Frame } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Overlay } from '../overlay/overlay.js'
import type { LinkManager } from '../peers/link-manager.js'
import type { SendOutcome } from '../peers/peer-link.js'
import type { TunnelSink } from '../peers/sinks.js'
import type { TunnelStream } from '../peers/tunnel-stream.js'
import type { NodeData } from './membership-types.js'

export { SENT, SENT_CONGESTED, DROPPED, type SendOutcome } from '../peers/peer-link.js'

/** Other relays, as the router sees them. */
export interface RemoteNodes {
  /** Relays other than this one with members of `cluster` (in the view; a link opens on first use). */
  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }>
  /** Relays other than this one with subscribers of `topic`. */
  topicNodes(topic: string): readonly string[]
  /** Sends a frame to a relay (opening a link if needed: the frame waits); false when it cannot. */
  send(node: string, frame: Frame): boolean
  /**
   * Sends pre-encoded event/broadcast bytes: SENT; SENT_CONGESTED when the link to `node` now
   * holds more than it should (publishers should wait: whenWritable); DROPPED (and congested).
   * One call per relay per event: the link's backlog is read once.
   */
  sendDroppable(node: string, frame: Uint8Array): SendOutcome
  /** Calls `resume` once no link is congested any more (or a link went away). */
  whenWritable(resume: () => void): void
  /** A tunnel stream to `node`, which speaks the tunnel frames to the relay there. */
  openTunnel(node: string, sink: TunnelSink): TunnelStream
  /**
   * No relay serves `cluster` now: wait (up to timeoutMs) for one — it served the cluster
   * moments ago and may be back (a relay that lost its links, a member restarting), or the DHT
   * knows one. True when some relay serves it by then.
   */
  lookup?(cluster: string, timeoutMs: number): Promise<boolean>
}

export interface RemoteIndexInit {
  self: string
  links: LinkManager
  overlay: Pick<Overlay, 'findProviders' | 'dial'>
  clock: Clock
  limits: Pick<RelayLimits, 'notFoundCacheMs' | 'lookupTimeoutMs' | 'recentlyServedMs'>
}

type ClusterNodes = Array<{ node: string; members: number }>

/** The answer for a name no relay serves (the router asks on every publish: no allocation). */
const NONE: readonly never[] = Object.freeze([])

/**
 * RemoteNodes over the directory and the peer links. The index of which relays serve which
 * cluster and topic is kept up to date change by change (a relay's entry changed, or it left
 * the view), never rebuilt from the whole directory. A request for a cluster that vanished
 * only moments ago waits for it within its own timeout instead of failing at once.
 */
export class RemoteIndex implements RemoteNodes {
  private readonly init: RemoteIndexInit
  private readonly clusters = new Map<string, Map<string, number>>()
  private readonly clusterLists = new Map<string, ClusterNodes>()
  private readonly topics = new Map<string, Set<string>>()
  private readonly topicLists = new Map<string, string[]>()
  /** When each cluster last stopped being served by any other relay. */
  private readonly gone = new Map<string, number>()
  private readonly waiters = new Map<string, Set<() => void>>()
  /** Clusters a DHT lookup found nothing for recently: not looked up again until then. */
  private readonly notFound = new Map<string, number>()
  private stopped = false

  constructor(init: RemoteIndexInit) {
    this.init = init
  }

  stop(): void {
    this.stopped = true
    for (const set of this.waiters.values()) for (const w of set) w()
    this.waiters.clear()
  }

  /** A relay's entry entered the view or changed (`before` undefined), or left it (`after` undefined). */
  update(node: string, before: NodeData | undefined, after: NodeData | undefined): void {
    if (node === this.init.self) return
    for (const [name] of before?.clusters ?? []) if (after?.clusters.has(name) !== true) this.removeCluster(name, node)
    for (const [name, members] of after?.clusters ?? []) if (before?.clusters.get(name) !== members) this.addCluster(name, node, members)
    for (const t of before?.topics ?? []) if (after?.topics.has(t) !== true) this.removeTopic(t, node)
    for (const t of after?.topics ?? []) if (before?.topics.has(t) !== true) this.addTopic(t, node)
  }

  private addCluster(name: string, node: string, members: number): void {
    let m = this.clusters.get(name)
    if (m === undefined) this.clusters.set(name, (m = new Map()))
    m.set(node, members)
    this.clusterLists.delete(name)
    this.gone.delete(name)
    const ws = this.waiters.get(name)
    if (ws !== undefined) {
      this.waiters.delete(name)
      for (const w of ws) w()
    }
  }

  private removeCluster(name: string, node: string): void {
    const m = this.clusters.get(name)
    if (m === undefined || !m.delete(node)) return
    this.clusterLists.delete(name)
    if (m.size > 0) return
    this.clusters.delete(name)
    if (this.gone.size >= 65_536) this.gone.clear()
    this.gone.set(name, this.init.clock.now())
  }

  private addTopic(t: string, node: string): void {
    let s = this.topics.get(t)
    if (s === undefined) this.topics.set(t, (s = new Set()))
    s.add(node)
    this.topicLists.delete(t)
  }

  private removeTopic(t: string, node: string): void {
    const s = this.topics.get(t)
    if (s === undefined || !s.delete(node)) return
    this.topicLists.delete(t)
    if (s.size === 0) this.topics.delete(t)
  }

  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }> {
    let list = this.clusterLists.get(cluster)
    if (list === undefined) {
      const m = this.clusters.get(cluster)
      if (m === undefined) return NONE
      list = [...m].map(([node, members]) => ({ node, members }))
      this.clusterLists.set(cluster, list)
    }
    return list
  }

  topicNodes(topic: string): readonly string[] {
    let list = this.topicLists.get(topic)
    if (list === undefined) {
      const s = this.topics.get(topic)
      if (s === undefined) return NONE
      list = [...s]
      this.topicLists.set(topic, list)
    }
    return list
  }

  /** Clusters and topics other relays serve (for status pages). */
  get size(): { clusters: number; topics: number } {
    return { clusters: this.clusters.size, topics: this.topics.size }
  }

  send(node: string, frame: Frame): boolean {
    return this.init.links.send(node, frame)
  }

  sendDroppable(node: string, frame: Uint8Array): SendOutcome {
    return this.init.links.sendDroppable(node, frame)
  }

  whenWritable(resume: () => void): void {
    this.init.links.whenWritable(resume)
  }

  openTunnel(node: string, sink: TunnelSink): TunnelStream {
    return this.init.links.openTunnel(node, sink)
  }

  async lookup(cluster: string, timeoutMs: number): Promise<boolean> {
    if (this.stopped) return false
    if (this.clusterNodes(cluster).length > 0) return true
    const { clock, limits } = this.init
    const goneAt = this.gone.get(cluster)
    if (goneAt !== undefined && clock.now() - goneAt < limits.recentlyServedMs) return this.waitFor(cluster, timeoutMs)
    return this.findInDht(cluster, Math.min(timeoutMs, limits.lookupTimeoutMs))
  }

  /** Resolves when some relay serves `cluster`, or after `timeoutMs`. */
  private waitFor(cluster: string, timeoutMs: number): Promise<boolean> {
    const { clock } = this.init
    return new Promise<boolean>((resolve) => {
      let set = this.waiters.get(cluster)
      if (set === undefined) this.waiters.set(cluster, (set = new Set()))
      const done = (): void => {
        clock.clearTimeout(timer)
        set.delete(done)
        resolve(this.clusterNodes(cluster).length > 0)
      }
      const timer = clock.setTimeout(done, timeoutMs)
      timer.unref?.()
      set.add(done)
    })
  }

  /** Asks the DHT (when the overlay has one) and dials what it names; their entries come by gossip. */
  private async findInDht(cluster: string, timeoutMs: number): Promise<boolean> {
    const { clock, overlay, limits } = this.init
    const now = clock.now()
    if (overlay.findProviders === undefined || (this.notFound.get(cluster) ?? 0) > now) return false
    const providers = await overlay.findProviders(cluster, timeoutMs)
    for (const p of providers) void overlay.dial(p.id, p.addrs).catch(() => {})
    const found = providers.length > 0 && (await this.waitFor(cluster, Math.max(0, now + timeoutMs - clock.now())))
    if (!found) {
      if (this.notFound.size > 10_000) this.notFound.clear()
      this.notFound.set(cluster, clock.now() + limits.notFoundCacheMs)
    }
    return found
  }
}
