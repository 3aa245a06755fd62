import type { Stream } from '@libp2p/interface'
import { ErrorCode, FrameType, NameReader, PROTOCOL_VERSION, parseFrame, type Frame } from '@herald/wire'
import { Directory, maxPlausibleVersion, validEntry, type DirectoryEntry } from './directory.js'
import { Overlay, describe } from './overlay.js'
import { PeerLink } from './peer-link.js'
import type { Endpoint, RemoteNodes, Router } from './router.js'
import type { OutQueue } from './outqueue.js'
import { TunnelStreamEndpoint } from './tunnel-stream.js'
import { ANTI_ENTROPY_MS, DIRECTORY_FRAME_BYTES, ENTRY_EXPIRY_MS, HEARTBEAT_MS, MAX_DIRECTORY_NODES, TOMBSTONE_MS } from './constants.js'

const utf8 = new TextEncoder()
/** How long a DHT lookup that found nothing is remembered. */
const NOT_FOUND_CACHE_MS = 5_000
const fromUtf8 = new TextDecoder()

/** Another relay as a source of requests: replies go back over its link. */
class PeerEndpoint implements Endpoint {
  private static nextId = 2_000_000_000
  readonly id = PeerEndpoint.nextId++
  constructor(readonly link: PeerLink) {}
  send(frame: Frame): void {
    this.link.send(frame)
  }
  sendDroppable(_q: OutQueue, _f: Uint8Array, _t: string | undefined): boolean {
    return false
  }
}

export interface MeshInit {
  overlay: Overlay
  router: Router
  network: string
  maxFrameBytes: number
  log: (msg: string) => void
}

export interface PeerView {
  nodeId: string
  connected: boolean
  addrs: string[]
  clusters: Record<string, { members: number; load: number }>
  topics: string[]
}

/**
 * The relays of one network as a whole: peer links to every other relay (a full mesh on
 * top of libp2p), the directory and its gossip (push on change, heartbeats, anti-entropy),
 * failure detection, and routing to other relays for the router (RemoteNodes).
 */
export class Mesh implements RemoteNodes {
  private readonly init: MeshInit
  private readonly overlay: Overlay
  private readonly router: Router
  directory!: Directory
  private readonly links = new Map<string, PeerLink>()
  private readonly peers = new Map<string, PeerEndpoint>()
  /** Peers we are opening a link to right now. */
  private readonly opening = new Set<string>()
  private version = Date.now() * 1000
  private timers: Array<ReturnType<typeof setInterval>> = []
  private changePending = false
  private indexDirty = true
  private clusterIndex = new Map<string, Array<{ node: string; members: number }>>()
  private topicIndex = new Map<string, string[]>()
  private stopped = false
  private readonly names = new NameReader()
  gossipSent = 0
  gossipReceived = 0
  rejectedEntries = 0

  constructor(init: MeshInit) {
    this.init = init
    this.overlay = init.overlay
    this.router = init.router
  }

  get self(): string {
    return this.overlay.nodeId
  }

  async start(): Promise<void> {
    await this.overlay.start({
      onLinkStream: (stream, remote) => this.adoptStream(stream, remote),
      onTunnelStream: (stream) => {
        const ep = new TunnelStreamEndpoint({ router: this.router, maxFrameBytes: this.init.maxFrameBytes, stream })
        this.router.attach(ep)
      },
      onConnect: (remote) => this.onConnect(remote),
      onDisconnect: (remote) => this.onDisconnect(remote),
    })
    this.directory = new Directory({ self: this.self, expiryMs: ENTRY_EXPIRY_MS, tombstoneMs: TOMBSTONE_MS })
    this.directory.setSelf(this.ownEntry())
    this.router.setRemote(this)
    const t1 = setInterval(() => this.heartbeat(), HEARTBEAT_MS)
    const t2 = setInterval(() => this.antiEntropy(), ANTI_ENTROPY_MS)
    t1.unref()
    t2.unref()
    this.timers.push(t1, t2)
  }

  private ownEntry(): DirectoryEntry {
    const s = this.router.localSummary()
    return { node: this.self, version: this.version, addrs: this.overlay.addrs(), clusters: s.clusters, topics: s.topics }
  }

  // ---- links ------------------------------------------------------------------------

  private onConnect(remote: string, attempt = 0): void {
    // One open at a time per peer: several connections to one peer (both sides dialled at
    // once, e.g. after mDNS) must not open several links.
    if (this.stopped || this.links.has(remote) || this.opening.has(remote)) return
    this.opening.add(remote)
    // One link per pair: the lower id opens it; the other side opens it only if it never came.
    // A failed open is retried (backing off) for as long as the peer stays connected: nothing
    // else would ever open the link, since the heartbeat only dials peers with no connection.
    const delay = attempt > 0 ? Math.min(250 * 2 ** attempt, 5000) : this.self < remote ? 0 : 1500
    setTimeout(() => {
      if (this.stopped || this.links.has(remote) || !this.overlay.isConnected(remote)) {
        this.opening.delete(remote)
        return
      }
      this.overlay.openLink(remote).then(
        (stream) => {
          this.opening.delete(remote)
          this.adoptStream(stream, remote)
        },
        (err: unknown) => {
          this.opening.delete(remote)
          this.init.log(`link to ${remote} failed: ${describe(err)}`)
          this.onConnect(remote, attempt + 1)
        },
      )
    }, delay).unref()
  }

  private onDisconnect(remote: string): void {
    this.links.get(remote)?.close('disconnected')
    this.declareDead(remote)
  }

  private adoptStream(stream: Stream, remote: string): void {
    if (this.stopped) {
      stream.abort(new Error('relay stopping'))
      return
    }
    const link = new PeerLink({ remote, stream, maxFrameBytes: this.init.maxFrameBytes })
    link.onWritable = () => this.linkWritable()
    let ready = false
    link.setEvents({
      onFrame: (l, type, buf, start, end) => {
        if (ready) return this.onLinkFrame(l, type, buf, start, end)
        const f = parseFrame(type, buf.subarray(start + 5, end))
        if (f.type !== FrameType.peerHello || f.version !== PROTOCOL_VERSION || f.network !== this.init.network || f.nodeId !== remote) {
          this.init.log(`peer ${remote} failed the link handshake; disconnecting it`)
          l.close('bad handshake')
          return
        }
        ready = true
        this.linkUp(l)
      },
      onClose: (l, why) => this.linkDown(l, why),
    })
    link.send({ type: FrameType.peerHello, version: PROTOCOL_VERSION, network: this.init.network, nodeId: this.self })
  }

  private linkUp(link: PeerLink): void {
    this.overlay.keepAlive(link.remote)
    const old = this.links.get(link.remote)
    this.links.set(link.remote, link)
    if (old !== undefined && old !== link) old.close('replaced by a newer link')
    const ep = new PeerEndpoint(link)
    this.peers.set(link.remote, ep)
    this.router.attach(ep)
    this.indexDirty = true
    // Give the new peer our whole view; it gives us its own.
    this.sendEntries(link, this.directory.gossipable())
  }

  private linkDown(link: PeerLink, why: string): void {
    if (this.links.get(link.remote) !== link) {
      // A replaced link, or one that closed before its handshake: if no link is left, get one.
      if (!this.stopped && !this.links.has(link.remote) && this.overlay.isConnected(link.remote)) this.onConnect(link.remote, 1)
      return
    }
    this.links.delete(link.remote)
    const ep = this.peers.get(link.remote)
    this.peers.delete(link.remote)
    if (ep !== undefined) this.router.detach(ep, why)
    this.router.remoteLost(link.remote)
    this.indexDirty = true
    if (!this.stopped && this.overlay.isConnected(link.remote)) this.onConnect(link.remote)
    else this.declareDead(link.remote)
  }

  private declareDead(remote: string): void {
    const t = this.directory?.kill(remote)
    if (t === undefined) return
    this.indexDirty = true
    this.gossip([t], undefined)
  }

  private onLinkFrame(link: PeerLink, type: number, buf: Uint8Array, start: number, end: number): void {
    // Events and broadcasts are forwarded to local receivers as received (same bytes).
    if (type === FrameType.event) {
      const topic = this.names.read(buf, start, end)
      this.router.publish(topic, new Uint8Array(buf.buffer, buf.byteOffset + start, end - start), true)
      return
    }
    const frame = buf.subarray(start, end)
    const f = parseFrame(type, frame.subarray(5))
    const ep = this.peers.get(link.remote)
    switch (f.type) {
      case FrameType.request:
        if (ep !== undefined) this.router.request(ep, f, true)
        return
      case FrameType.reply:
      case FrameType.failure:
        this.router.remoteAnswer(link.remote, f.id, f)
        return
      case FrameType.broadcast:
        this.router.broadcast(f.cluster, frame, true)
        return
      case FrameType.directory:
        this.onEntries(link, f.entries)
        return
      case FrameType.digest:
        this.onDigest(link, f.digest)
        return
      case FrameType.ping:
        link.send({ type: FrameType.pong, token: f.token })
        return
      case FrameType.pong:
        return
      case FrameType.close:
        link.close('the peer is stopping')
        return
      default:
        this.init.log(`peer ${link.remote} sent frame 0x${f.type.toString(16)} on the link; disconnecting it`)
        link.close('protocol violation')
    }
  }

  // ---- directory gossip -------------------------------------------------------------

  /** Sends entries in frames of at most ~256 KiB each, so a large directory never hits the frame limit. */
  private sendEntries(link: PeerLink, entries: DirectoryEntry[]): void {
    let batch: string[] = []
    let bytes = 0
    const flush = (): void => {
      if (batch.length === 0) return
      this.gossipSent++
      link.send({ type: FrameType.directory, entries: utf8.encode(`[${batch.join(',')}]`) })
      batch = []
      bytes = 0
    }
    for (const e of entries) {
      const json = JSON.stringify(e)
      if (bytes + json.length > DIRECTORY_FRAME_BYTES) flush()
      batch.push(json)
      bytes += json.length + 1
    }
    flush()
  }

  /** Pushes entries to every link but `except` (flooding, stopped by version checks). */
  private gossip(entries: DirectoryEntry[], except: PeerLink | undefined): void {
    for (const l of this.links.values()) if (l !== except) this.sendEntries(l, entries)
  }

  private onEntries(link: PeerLink, bytes: Uint8Array): void {
    this.gossipReceived++
    let list: unknown
    try {
      list = JSON.parse(fromUtf8.decode(bytes))
    } catch {
      list = undefined
    }
    if (!Array.isArray(list) || list.length > 10_000) {
      this.rejectedEntries++
      this.init.log(`peer ${link.remote} sent a malformed directory; disconnecting it`)
      link.close('malformed directory')
      return
    }
    const changed: DirectoryEntry[] = []
    const maxVersion = maxPlausibleVersion(Date.now())
    for (const e of list) {
      if (!validEntry(e, maxVersion) || (this.directory.get(e.node) === undefined && this.directory.size >= MAX_DIRECTORY_NODES)) {
        this.rejectedEntries++
        continue
      }
      if (e.node === this.self) {
        // Someone holds a stale (or false) word about us: answer with our own, newer entry.
        if (e.version >= this.version) {
          this.version = e.version + 1
          this.publishSelf()
        }
        continue
      }
      if (this.directory.merge(e)) changed.push(e)
    }
    if (changed.length === 0) return
    this.indexDirty = true
    this.gossip(changed, link)
    for (const e of changed) {
      if (e.dead !== true && !this.links.has(e.node)) this.overlay.dialAddrs(e.node, e.addrs)
    }
  }

  private onDigest(link: PeerLink, bytes: Uint8Array): void {
    let digest: unknown
    try {
      digest = JSON.parse(fromUtf8.decode(bytes))
    } catch {
      digest = undefined
    }
    if (typeof digest !== 'object' || digest === null || Array.isArray(digest)) {
      link.close('malformed digest')
      return
    }
    this.sendEntries(link, this.directory.newerThan(digest as Record<string, number>))
  }

  private publishSelf(): void {
    this.version++
    const e = this.ownEntry()
    for (const name of Object.keys(e.clusters)) {
      if (this.provided.has(name)) continue
      // The DHT lets relays that do not know us yet find this cluster (kad-dht re-provides it).
      if (this.provided.size < 10_000) this.provided.add(name)
      this.overlay.provide(name)
    }
    this.directory.setSelf(e)
    this.gossip([e], undefined)
  }

  /** Router: local clusters/topics changed. Coalesced, so a burst makes one new version. */
  changed(): void {
    if (this.changePending || this.directory === undefined) return
    this.changePending = true
    setImmediate(() => {
      this.changePending = false
      if (!this.stopped) this.publishSelf()
    })
  }

  private heartbeat(): void {
    if (this.stopped) return
    this.publishSelf()
    this.directory.sweep()
    this.indexDirty = true
    // Full mesh: dial any live relay we have no link to.
    for (const e of this.directory.alive()) {
      if (e.node !== this.self && !this.links.has(e.node)) this.overlay.dialAddrs(e.node, e.addrs)
    }
  }

  private antiEntropy(): void {
    if (this.stopped || this.links.size === 0) return
    const all = [...this.links.values()]
    const l = all[Math.floor(Math.random() * all.length)]!
    l.send({ type: FrameType.digest, digest: utf8.encode(JSON.stringify(this.directory.digest())) })
  }

  // ---- RemoteNodes (for the router) ---------------------------------------------------

  private reindex(): void {
    if (!this.indexDirty) return
    this.indexDirty = false
    this.clusterIndex = new Map()
    this.topicIndex = new Map()
    for (const e of this.directory.alive()) {
      if (e.node === this.self || !this.links.has(e.node)) continue
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

  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }> {
    this.reindex()
    return this.clusterIndex.get(cluster) ?? []
  }

  topicNodes(topic: string): readonly string[] {
    this.reindex()
    return this.topicIndex.get(topic) ?? []
  }

  send(node: string, frame: Frame): boolean {
    const l = this.links.get(node)
    if (l === undefined || l.closed) return false
    l.send(frame)
    return true
  }

  sendDroppable(node: string, frame: Uint8Array): boolean {
    const l = this.links.get(node)
    return l !== undefined && l.sendDroppable(frame)
  }

  congested(node: string): boolean {
    return this.links.get(node)?.congested === true
  }

  private writableWaiters: Array<() => void> = []
  private readonly provided = new Set<string>()
  /** Clusters a DHT lookup found nothing for recently: not looked up again until then. */
  private readonly notFound = new Map<string, number>()

  /**
   * The directory knows no relay with members of `cluster`: ask the DHT, dial what it names,
   * and wait (up to timeoutMs) for their directory entries. True when some relay now serves it.
   */
  async lookup(cluster: string, timeoutMs: number): Promise<boolean> {
    const now = Date.now()
    if (this.stopped || this.links.size === 0 || (this.notFound.get(cluster) ?? 0) > now) return false
    const deadline = now + timeoutMs
    const providers = await this.overlay.findProviders(cluster, timeoutMs)
    for (const p of providers) if (!this.links.has(p.id)) this.overlay.dialAddrs(p.id, p.addrs)
    // Entries arrive by gossip once linked: look for them until the deadline (bounded, rare).
    while (providers.length > 0 && this.clusterNodes(cluster).length === 0 && Date.now() < deadline && !this.stopped) {
      await new Promise((r) => setTimeout(r, 25))
      this.indexDirty = true
    }
    const found = this.clusterNodes(cluster).length > 0
    if (!found) {
      if (this.notFound.size > 10_000) this.notFound.clear()
      this.notFound.set(cluster, Date.now() + NOT_FOUND_CACHE_MS)
    }
    return found
  }

  whenWritable(resume: () => void): void {
    for (const l of this.links.values()) {
      if (l.congested) {
        this.writableWaiters.push(resume)
        return
      }
    }
    resume()
  }

  /** A link drained (or closed): wake the waiting publishers if no link is congested now. */
  private linkWritable(): void {
    for (const l of this.links.values()) if (l.congested) return
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const w of waiters) w()
  }

  openTunnel(node: string): Endpoint {
    const ep = new TunnelStreamEndpoint({ router: this.router, maxFrameBytes: this.init.maxFrameBytes })
    const ac = new AbortController()
    const timer = setTimeout(() => ac.abort(), 10_000)
    this.overlay.openTunnel(node, ac.signal).then(
      (stream) => { clearTimeout(timer); ep.bind(stream) },
      (err: unknown) => { clearTimeout(timer); ep.failOpen(err) },
    )
    return ep
  }

  // ---- status -----------------------------------------------------------------------

  view(): PeerView[] {
    return this.directory.alive().filter((e) => e.node !== this.self).map((e) => ({
      nodeId: e.node, connected: this.links.has(e.node), addrs: e.addrs, clusters: e.clusters, topics: e.topics,
    }))
  }

  linkStats(): Array<{ nodeId: string; bytesIn: number; bytesOut: number; dropped: number }> {
    return [...this.links.values()].map((l) => ({ nodeId: l.remote, bytesIn: l.bytesIn, bytesOut: l.bytesOut, dropped: l.dropped }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    for (const l of [...this.links.values()]) {
      l.send({ type: FrameType.close, code: ErrorCode.shutdown, reason: 'relay stopping' })
      l.close('relay stopping')
    }
    await this.overlay.stop()
  }
}
