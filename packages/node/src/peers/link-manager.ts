/**
 * peers/ — links to other relays: one long-lived peer link per pair of relays (opened on
 * connection, reopened while connected, redialled), the tunnel streams, and who we dial.
 * Frames go up through the sinks (sinks.ts) that the router and the directory implement.
 *
 * May import: overlay/, clock, constants, @herald/wire. Never routing/ or directory/.
 */
import { ErrorCode, FrameType, NameReader, parseFrameAt, type Frame } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { ByteStream, Overlay } from '../overlay/overlay.js'
import type { Dialer } from './dialer.js'
import { PeerLink } from './peer-link.js'
import type { LinkSinks, TunnelSink } from './sinks.js'
import { TunnelStream } from './tunnel-stream.js'

export interface LinkManagerInit {
  overlay: Overlay
  dialer: Dialer
  network: string
  /** Peer links and tunnel streams accept frames up to this size. */
  maxFrameBytes: number
  clock: Clock
  limits: Pick<RelayLimits, 'linkHighWaterBytes' | 'maxLinkBacklogBytes' | 'linkOpenWaitMs' | 'tunnelOpenTimeoutMs' | 'tunnelStreamStallMs'>
  log: (msg: string) => void
}

export interface LinkStats {
  nodeId: string
  bytesIn: number
  bytesOut: number
  dropped: number
}

/** Every peer link of this relay, and the streams other relays open to it. */
export class LinkManager {
  private readonly init: LinkManagerInit
  private readonly overlay: Overlay
  private readonly links = new Map<string, PeerLink>()
  /** Peers we are opening a link to right now. */
  private readonly opening = new Set<string>()
  private readonly names = new NameReader()
  private sinks: LinkSinks | undefined
  private writableWaiters: Array<() => void> = []
  private stopped = false
  /** Changes whenever a link comes or goes (readers cache what depends on the set of links). */
  generation = 0

  constructor(init: LinkManagerInit) {
    this.init = init
    this.overlay = init.overlay
  }

  get self(): string {
    return this.overlay.nodeId
  }

  /** Starts the overlay; from then on, what other relays send goes to `sinks`. */
  async start(sinks: LinkSinks): Promise<void> {
    this.sinks = sinks
    await this.overlay.start({
      connected: (peer) => this.onConnect(peer),
      disconnected: (peer) => this.onDisconnect(peer),
      inbound: (stream) => this.inbound(stream, sinks),
      discovered: (peer, addrs) => this.init.dialer.dial(peer, addrs.length > 0 ? addrs : undefined),
    })
    this.init.dialer.start()
  }

  has(peer: string): boolean {
    return this.links.has(peer)
  }

  /** Every link up now. */
  all(): IterableIterator<PeerLink> {
    return this.links.values()
  }

  get size(): number {
    return this.links.size
  }

  /** Sends a control frame to a relay; false when there is no link to it. */
  send(peer: string, frame: Frame): boolean {
    const l = this.links.get(peer)
    if (l === undefined || l.closed) return false
    l.send(frame)
    return true
  }

  /** Sends pre-encoded event/broadcast bytes; false when dropped. */
  sendDroppable(peer: string, frame: Uint8Array): boolean {
    const l = this.links.get(peer)
    return l !== undefined && l.sendDroppable(frame)
  }

  congested(peer: string): boolean {
    return this.links.get(peer)?.congested === true
  }

  /** Calls `resume` once no link is congested any more (or a congested link went away). */
  whenWritable(resume: () => void): void {
    for (const l of this.links.values()) {
      if (l.congested) {
        this.writableWaiters.push(resume)
        return
      }
    }
    resume()
  }

  /** A tunnel stream to `peer`, usable at once (frames wait until the stream is open). */
  openTunnel(peer: string, sink: TunnelSink): TunnelStream {
    const ac = new AbortController()
    const timer = this.init.clock.setTimeout(() => ac.abort(), this.init.limits.tunnelOpenTimeoutMs)
    const stream = this.overlay.openStream(peer, 'tunnel', { signal: ac.signal }).finally(() => this.init.clock.clearTimeout(timer))
    return this.tunnelStream(stream, sink)
  }

  /** Hangs up on a relay that misbehaved. */
  disconnect(peer: string, why: string): void {
    this.links.get(peer)?.close(why)
  }

  stats(): LinkStats[] {
    return [...this.links.values()].map((l) => ({ nodeId: l.remote, bytesIn: l.bytesIn, bytesOut: l.bytesOut, dropped: l.dropped }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.init.dialer.stop()
    for (const l of [...this.links.values()]) {
      l.send({ type: FrameType.close, code: ErrorCode.shutdown, reason: 'relay stopping' })
      l.close('relay stopping')
    }
    await this.overlay.stop()
  }

  // ---- opening links ------------------------------------------------------------------

  private onConnect(remote: string, attempt = 0): void {
    // One open at a time per peer: several connections to one peer (both sides dialled at
    // once, e.g. after mDNS) must not open several links.
    if (this.stopped || this.links.has(remote) || this.opening.has(remote)) return
    this.opening.add(remote)
    // One link per pair: the lower id opens it; the other side opens it only if it never came.
    // A failed open is retried (backing off) for as long as the peer stays connected: nothing
    // else would ever open the link, since the heartbeat only dials peers with no connection.
    const delay = attempt > 0 ? Math.min(250 * 2 ** attempt, 5000) : this.self < remote ? 0 : this.init.limits.linkOpenWaitMs
    this.init.clock.setTimeout(() => {
      if (this.stopped || this.links.has(remote) || !this.overlay.isConnected(remote)) {
        this.opening.delete(remote)
        return
      }
      this.overlay.openStream(remote, 'link').then(
        (stream) => {
          this.opening.delete(remote)
          this.adopt(stream)
        },
        (err: unknown) => {
          this.opening.delete(remote)
          this.init.log(`link to ${remote} failed: ${(err as Error).message}`)
          this.onConnect(remote, attempt + 1)
        },
      )
    }, delay).unref?.()
  }

  private onDisconnect(remote: string): void {
    this.links.get(remote)?.close('disconnected')
    this.sinks?.gossip.peerLost(remote)
  }

  private inbound(stream: ByteStream, sinks: LinkSinks): void {
    if (stream.kind === 'link') this.adopt(stream)
    else this.tunnelStream(stream, sinks.tunnels)
  }

  private tunnelStream(stream: ByteStream | Promise<ByteStream>, sink: TunnelSink): TunnelStream {
    const l = this.init.limits
    const t = new TunnelStream({ stream, sink, maxFrameBytes: this.init.maxFrameBytes, stallMs: l.tunnelStreamStallMs, clock: this.init.clock })
    sink.attach(t)
    return t
  }

  private adopt(stream: ByteStream): void {
    if (this.stopped) {
      stream.abort(new Error('relay stopping'))
      return
    }
    const l = this.init.limits
    // The link reports through these events; frames come only after its handshake.
    new PeerLink({
      stream, self: this.self, network: this.init.network, maxFrameBytes: this.init.maxFrameBytes,
      highWaterBytes: l.linkHighWaterBytes, maxBacklogBytes: l.maxLinkBacklogBytes, log: this.init.log,
      events: {
        ready: (link) => this.linkUp(link),
        frame: (link, type, buf, start, end) => this.onFrame(link, type, buf, start, end),
        closed: (link, why) => this.linkDown(link, why),
        writable: () => this.linkWritable(),
      },
    })
  }

  private linkUp(link: PeerLink): void {
    this.overlay.keepAlive?.(link.remote)
    const old = this.links.get(link.remote)
    this.links.set(link.remote, link)
    if (old !== undefined && old !== link) old.close('replaced by a newer link')
    this.generation++
    this.sinks?.data.linkUp(link)
    // Give the new peer our whole view; it gives us its own.
    this.sinks?.gossip.linkUp(link)
  }

  private linkDown(link: PeerLink, why: string): void {
    if (this.links.get(link.remote) !== link) {
      // A replaced link, or one that closed before its handshake: if no link is left, get one.
      if (!this.stopped && !this.links.has(link.remote) && this.overlay.isConnected(link.remote)) this.onConnect(link.remote, 1)
      return
    }
    this.links.delete(link.remote)
    this.generation++
    this.sinks?.data.linkDown(link, why)
    if (!this.stopped && this.overlay.isConnected(link.remote)) this.onConnect(link.remote)
    else this.sinks?.gossip.peerLost(link.remote)
  }

  /** A link drained (or closed): wake the waiting publishers if no link is congested now. */
  private linkWritable(): void {
    for (const l of this.links.values()) if (l.congested) return
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const w of waiters) w()
  }

  // ---- frames -------------------------------------------------------------------------

  private onFrame(link: PeerLink, type: number, buf: Uint8Array, start: number, end: number): void {
    const sinks = this.sinks
    if (sinks === undefined) return
    // Events are forwarded to local receivers as received (the same bytes).
    if (type === FrameType.event) {
      const topic = this.names.read(buf, start, end)
      sinks.data.event(link.remote, topic, new Uint8Array(buf.buffer, buf.byteOffset + start, end - start))
      return
    }
    const f = parseFrameAt(type, buf, start, end)
    switch (f.type) {
      case FrameType.request:
      case FrameType.reply:
      case FrameType.failure:
      case FrameType.broadcast:
        sinks.data.frame(link.remote, f, buf.subarray(start, end))
        return
      case FrameType.directory:
        sinks.gossip.entries(link, f.entries)
        return
      case FrameType.digest:
        sinks.gossip.digest(link, f.digest)
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
}
