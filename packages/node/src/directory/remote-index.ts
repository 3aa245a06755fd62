import type { Frame } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Overlay } from '../overlay/overlay.js'
import type { Dialer } from '../peers/dialer.js'
import type { LinkManager } from '../peers/link-manager.js'
import type { TunnelSink } from '../peers/sinks.js'
import type { TunnelStream } from '../peers/tunnel-stream.js'
import type { Directory } from './directory.js'

/** Other relays, as the router sees them. */
export interface RemoteNodes {
  /** Relays other than this one with members of `cluster` (and a link to them). */
  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }>
  /** Relays other than this one with subscribers of `topic` (and a link to them). */
  topicNodes(topic: string): readonly string[]
  /** Sends a control frame to a relay; false when there is no link to it. */
  send(node: string, frame: Frame): boolean
  /** Sends pre-encoded event/broadcast bytes; false when dropped. */
  sendDroppable(node: string, frame: Uint8Array): boolean
  /** The link to `node` holds more than it should: publishers should wait (whenWritable). */
  congested(node: string): boolean
  /** Calls `resume` once no link is congested any more (or a link went away). */
  whenWritable(resume: () => void): void
  /** A tunnel stream to `node`, which speaks the tunnel frames to the relay there. */
  openTunnel(node: string, sink: TunnelSink): TunnelStream
  /** Looks for relays serving `cluster` beyond the directory (the DHT); true when found. */
  lookup?(cluster: string, timeoutMs: number): Promise<boolean>
}

export interface RemoteIndexInit {
  directory: Directory
  links: LinkManager
  dialer: Dialer
  overlay: Pick<Overlay, 'findProviders'>
  clock: Clock
  limits: Pick<RelayLimits, 'notFoundCacheMs'>
}

type ClusterNodes = Array<{ node: string; members: number }>

/** The answer for a name no relay serves (the router asks on every publish: no allocation). */
const NONE: readonly never[] = Object.freeze([])

/**
 * RemoteNodes over the directory and the peer links: which linked relays serve a cluster or
 * a topic (an index rebuilt only when the directory or the set of links changed, since the
 * router asks on every publish), and DHT lookups for clusters the directory does not know.
 */
export class RemoteIndex implements RemoteNodes {
  private readonly init: RemoteIndexInit
  private readonly directory: Directory
  private readonly links: LinkManager
  private seen = { directory: -1, links: -1 }
  private clusterIndex = new Map<string, ClusterNodes>()
  private topicIndex = new Map<string, string[]>()
  /** Clusters a DHT lookup found nothing for recently: not looked up again until then. */
  private readonly notFound = new Map<string, number>()
  private stopped = false

  constructor(init: RemoteIndexInit) {
    this.init = init
    this.directory = init.directory
    this.links = init.links
  }

  stop(): void {
    this.stopped = true
  }

  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }> {
    this.reindex()
    return this.clusterIndex.get(cluster) ?? NONE
  }

  topicNodes(topic: string): readonly string[] {
    this.reindex()
    return this.topicIndex.get(topic) ?? NONE
  }

  send(node: string, frame: Frame): boolean {
    return this.links.send(node, frame)
  }

  sendDroppable(node: string, frame: Uint8Array): boolean {
    return this.links.sendDroppable(node, frame)
  }

  congested(node: string): boolean {
    return this.links.congested(node)
  }

  whenWritable(resume: () => void): void {
    this.links.whenWritable(resume)
  }

  openTunnel(node: string, sink: TunnelSink): TunnelStream {
    return this.links.openTunnel(node, sink)
  }

  /**
   * The directory knows no relay with members of `cluster`: ask the DHT, dial what it names,
   * and wait (up to timeoutMs) for their directory entries. True when some relay now serves it.
   */
  async lookup(cluster: string, timeoutMs: number): Promise<boolean> {
    const { clock, overlay } = this.init
    const now = clock.now()
    if (this.stopped || this.links.size === 0 || overlay.findProviders === undefined || (this.notFound.get(cluster) ?? 0) > now) return false
    const deadline = now + timeoutMs
    const providers = await overlay.findProviders(cluster, timeoutMs)
    for (const p of providers) if (!this.links.has(p.id)) this.init.dialer.dial(p.id, p.addrs)
    // Entries arrive by gossip once linked: look for them until the deadline (bounded, rare).
    while (providers.length > 0 && this.clusterNodes(cluster).length === 0 && clock.now() < deadline && !this.stopped) {
      await new Promise<void>((r) => { clock.setTimeout(r, 25) })
    }
    const found = this.clusterNodes(cluster).length > 0
    if (!found) {
      if (this.notFound.size > 10_000) this.notFound.clear()
      this.notFound.set(cluster, clock.now() + this.init.limits.notFoundCacheMs)
    }
    return found
  }

  private reindex(): void {
    if (this.seen.directory === this.directory.generation && this.seen.links === this.links.generation) return
    this.seen = { directory: this.directory.generation, links: this.links.generation }
    this.clusterIndex = new Map()
    this.topicIndex = new Map()
    for (const e of this.directory.alive()) {
      if (e.node === this.directory.self || !this.links.has(e.node)) continue
      for (const [name, c] of Object.entries(e.clusters)) {
        if (c.members <= 0) continue
        const list = this.clusterIndex.get(name) ?? []
        list.push({ node: e.node, members: c.members })
        this.clusterIndex.set(name, list)
      }
      for (const t of e.topics) {
        const list = this.topicIndex.get(t) ?? []
        list.push(e.node)
        this.topicIndex.set(t, list)
      }
    }
  }
}
