/**
 * peers/ — links to other relays: one peer link per pair of relays that exchange anything,
 * opened on demand (the control plane's neighbors, or the first request or event to a relay)
 * and closed when idle, the tunnel streams, and the frames they carry. Frames go up through
 * the sinks (sinks.ts) that the router and the directory implement.
 *
 * May import: overlay/, clock, constants, @herald/wire. Never routing/ or directory/.
 */
import { ErrorCode, FRAME_HEADER_BYTES, FrameType, NameReader, encodeFrame, parseFrameAt, type Frame } from '@herald/wire'
import type { Clock, Timer } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Logger } from '../log.js'
import type { ByteStream, Overlay } from '../overlay/overlay.js'
import { DROPPED, PeerLink, SENT, SENT_CONGESTED, type SendOutcome } from './peer-link.js'
import { Pending } from './pending.js'
import type { LinkSinks, TunnelSink } from './sinks.js'
import { TunnelStream } from './tunnel-stream.js'

export interface LinkManagerInit {
  overlay: Overlay
  network: string
  /** Peer links and tunnel streams accept frames up to this size. */
  maxFrameBytes: number
  clock: Clock
  limits: Pick<RelayLimits,
    'linkHighWaterBytes' | 'maxLinkBacklogBytes' | 'linkOpenWaitMs' | 'linkConnectTimeoutMs' | 'linkIdleMs' | 'maxLinks'
    | 'tunnelStreamStallMs'>
  log: Logger
}

export interface LinkStats {
  nodeId: string
  bytesIn: number
  bytesOut: number
  dropped: number
  /** Bytes accepted for the relay and not yet sent. */
  backlog: number
}

interface Opening {
  readonly since: number
  readonly pending: Pending
  timer: Timer | undefined
  /** Dials started again because the connection went away meanwhile. */
  redials: number
}

/** Housekeeping runs once a second; "recently used" is counted in these ticks. */
const TICK_MS = 1000

/**
 * Every peer link of this relay. A link is opened when something needs it — the control plane
 * (connect) or data for a relay we have no link to (frames wait, in order and bounded, until
 * it is up) — and closed once nothing uses it: not held by the control plane, no tunnel to
 * that relay, no data for linkIdleMs. At most maxLinks are kept; past that the least recently
 * used idle one goes. So a relay has links to its few neighbors and to the relays it actually
 * exchanges traffic with, not to every relay of the network.
 */
export class LinkManager {
  private readonly init: LinkManagerInit
  private readonly overlay: Overlay
  private readonly links = new Map<string, PeerLink>()
  private readonly opening = new Map<string, Opening>()
  /** Streams being opened right now (one at a time per relay). */
  private readonly streamOpening = new Set<string>()
  private readonly tunnels = new Map<string, number>()
  /** Failed attempts in a row to reach each relay (until reached), for logging with back-off. */
  private readonly failures = new Map<string, number>()
  private readonly names = new NameReader()
  private sinks: LinkSinks | undefined
  private writableWaiters: Array<() => void> = []
  private housekeeping: Timer | undefined
  private tick = 0
  private stopped = false
  /** Changes whenever a link comes or goes. */
  generation = 0
  /** Links closed for being idle, and for the cap. */
  idleClosed = 0
  evicted = 0
  /** Bytes of CONTROL frames sent and received (membership, failure detection, directory), and frames dropped. */
  controlBytesOut = 0
  controlBytesIn = 0
  controlDropped = 0

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
      discovered: (peer, addrs) => sinks.control.discovered(peer, addrs),
    })
    this.housekeeping = this.init.clock.setInterval(() => this.housekeep(), TICK_MS)
    this.housekeeping.unref?.()
  }

  has(peer: string): boolean {
    return this.links.has(peer)
  }

  all(): IterableIterator<PeerLink> {
    return this.links.values()
  }

  get size(): number {
    return this.links.size
  }

  // ---- data ---------------------------------------------------------------------------

  /** Sends a frame to a relay, opening a link if there is none (the frame waits); false when it cannot be queued. */
  send(peer: string, frame: Frame): boolean {
    const l = this.links.get(peer)
    if (l !== undefined && !l.closed) {
      l.lastUsed = this.tick
      l.send(frame)
      return true
    }
    return this.queue(peer, encodeFrame(frame))
  }

  /** Sends pre-encoded event/broadcast bytes; false when dropped. */
  sendDroppable(peer: string, frame: Uint8Array): SendOutcome {
    const l = this.links.get(peer)
    if (l !== undefined) {
      l.lastUsed = this.tick
      return l.sendDroppable(frame)
    }
    if (!this.queue(peer, frame.slice())) return DROPPED
    return (this.opening.get(peer)?.pending.bytes ?? 0) > this.init.limits.linkHighWaterBytes ? SENT_CONGESTED : SENT
  }

  private queue(peer: string, bytes: Uint8Array): boolean {
    if (this.stopped || peer === this.self) return false
    this.open(peer)
    return this.opening.get(peer)?.pending.push(bytes) ?? false
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

  /**
   * A tunnel stream to `peer`, usable at once (frames wait until the stream is open). Opening
   * it takes as long as it takes: the tunnel's own deadline (the opener's timeoutMs, kept by
   * the router) ends the tunnel, and that cancels an open still under way. On a slow, lossy
   * path the open's round trip waits behind everything queued on the connection (the pressure
   * tier's combined profile saw requests take 18 s); a fixed 10 s here broke tunnels whose
   * opener had allowed 60 s.
   */
  openTunnel(peer: string, sink: TunnelSink): TunnelStream {
    const ac = new AbortController()
    const stream = this.overlay.openStream(peer, 'tunnel', { signal: ac.signal })
    return this.tunnelStream(stream, peer, sink, () => ac.abort(new Error('the tunnel ended before its stream opened')))
  }

  // ---- control ------------------------------------------------------------------------

  /** Opens a link to `peer` for the control plane: it hears linkUp or connectFailed. */
  connect(peer: string): void {
    if (this.links.has(peer)) {
      this.sinks?.control.linkUp(peer)
      return
    }
    this.open(peer)
  }

  sendControl(peer: string, body: Uint8Array): void {
    const l = this.links.get(peer)
    if (l === undefined) return
    // A peer that does not read (or asks for more than it reads: syncs, pulls) gets no more
    // until its link drains: control traffic is dropped and counted, never queued without bound.
    if (l.pending > this.init.limits.maxLinkBacklogBytes) {
      this.controlDropped++
      return
    }
    // Header (5), the frame's type byte is in the header: the body is the rest.
    this.controlBytesOut += FRAME_HEADER_BYTES + body.length
    l.send({ type: FrameType.control, body })
  }

  /** The control plane no longer needs the link: close it now unless data used it lately. */
  release(peer: string): void {
    const l = this.links.get(peer)
    if (l !== undefined && this.tick - l.lastUsed > 2) this.closeIfUnused(peer, l, 'no longer needed')
  }

  /** Closes everything to a relay (declared dead, or misbehaving). */
  drop(peer: string, why: string): void {
    this.links.get(peer)?.close(why)
    if (this.opening.has(peer)) this.failOpen(peer, why)
    void this.overlay.hangUp(peer)
  }

  stats(): LinkStats[] {
    return [...this.links.values()].map((l) => ({ nodeId: l.remote, bytesIn: l.bytesIn, bytesOut: l.bytesOut, dropped: l.dropped, backlog: l.pending }))
  }

  async stop(): Promise<void> {
    this.stopped = true
    this.init.clock.clearInterval(this.housekeeping)
    for (const o of this.opening.values()) this.init.clock.clearTimeout(o.timer)
    this.opening.clear()
    for (const l of [...this.links.values()]) {
      l.sendLast({ type: FrameType.close, code: ErrorCode.shutdown, reason: 'relay stopping' })
      l.close('relay stopping')
    }
    await this.overlay.stop()
  }

  // ---- opening links ------------------------------------------------------------------

  private open(peer: string): void {
    if (this.stopped || this.links.has(peer) || this.opening.has(peer) || peer === this.self) return
    this.evictIfFull()
    const o: Opening = { since: this.init.clock.now(), pending: new Pending(this.init.limits.maxLinkBacklogBytes), timer: undefined, redials: 0 }
    this.opening.set(peer, o)
    o.timer = this.init.clock.setTimeout(() => {
      if (this.opening.get(peer) === o) this.failOpen(peer, `no link within ${this.init.limits.linkConnectTimeoutMs} ms`)
    }, this.init.limits.linkConnectTimeoutMs)
    o.timer.unref?.()
    this.dial(peer, o)
  }

  /** Dials (a no-op when connected), then opens the link stream; a failed dial fails the open. */
  private dial(peer: string, o: Opening): void {
    const addrs = this.sinks?.control.addrsOf(peer) ?? []
    this.overlay.dial(peer, addrs.length > 0 ? addrs : undefined).then(
      () => {
        if (this.opening.get(peer) !== o) return
        if (this.overlay.isConnected(peer)) this.onConnect(peer)
        else this.failOpen(peer, 'no usable address', true)
      },
      (err: unknown) => {
        if (this.opening.get(peer) !== o) return
        // A dial that timed out says more about the network than about the relay.
        const e = err as Error
        this.failOpen(peer, `dial failed: ${e.message}`, !/timeout|timed out|abort/i.test(`${e.name} ${e.message}`))
      },
    )
  }

  /** `refused`: the relay is definitely not there (refused, no address), as opposed to a timeout. */
  private failOpen(peer: string, why: string, refused = false): void {
    const o = this.opening.get(peer)
    if (o === undefined) return
    this.opening.delete(peer)
    // Retries are frequent (a relay alone tries its contacts every second): log the 1st,
    // 2nd, 4th, 8th... failure in a row, so a relay that stays away costs log(n) lines.
    const failures = (this.failures.get(peer) ?? 0) + 1
    if (this.failures.size >= 1024 && !this.failures.has(peer)) this.failures.clear()
    this.failures.set(peer, failures)
    if ((failures & (failures - 1)) === 0) {
      this.init.log.warn({ event: 'dial.failed', peer, reason: why, refused, failures, nextLogAt: failures * 2 },
        `cannot reach relay ${peer}: ${why} (${failures} failure${failures === 1 ? '' : 's'} in a row)`)
    }
    this.init.clock.clearTimeout(o.timer)
    if (o.pending.length > 0) this.sinks?.data.linkFailed(peer, why)
    o.pending.take()
    this.sinks?.control.connectFailed(peer, refused)
  }

  private onConnect(remote: string, attempt = 0): void {
    if (this.stopped || this.links.has(remote) || this.streamOpening.has(remote)) return
    this.streamOpening.add(remote)
    // One link per pair: the lower id opens it at once; the other side opens it only if it
    // never came. A failed open is retried, backing off, while the relay is connected and a
    // link is wanted.
    const delay = attempt > 0 ? Math.min(250 * 2 ** attempt, 5000) : this.self < remote ? 0 : this.init.limits.linkOpenWaitMs
    if (attempt > 0) this.init.log.debug({ event: 'link.retry', peer: remote, attempt, delayMs: delay }, `opening the link to ${remote} again in ${delay} ms`)
    const t = this.init.clock.setTimeout(() => {
      if (this.stopped || this.links.has(remote)) {
        this.streamOpening.delete(remote)
        return
      }
      if (!this.overlay.isConnected(remote)) {
        // The connection went away meanwhile: if a link is wanted, dial again (a dead relay
        // refuses at once, which is what a lost link's owner needs to know quickly).
        this.streamOpening.delete(remote)
        const o = this.opening.get(remote)
        if (o !== undefined) this.dial(remote, o)
        return
      }
      this.overlay.openStream(remote, 'link').then(
        (stream) => {
          this.streamOpening.delete(remote)
          this.adopt(stream, false)
        },
        (err: unknown) => {
          this.streamOpening.delete(remote)
          const o = this.opening.get(remote)
          if (o !== undefined && !this.overlay.isConnected(remote)) this.dial(remote, o)
          else if (attempt < 4) this.onConnect(remote, attempt + 1)
          else this.failOpen(remote, (err as Error).message)
        },
      )
    }, delay)
    t.unref?.()
  }

  private onDisconnect(remote: string): void {
    this.links.get(remote)?.close('disconnected')
    const o = this.opening.get(remote)
    if (o === undefined || this.streamOpening.has(remote)) return
    // Usually the connection that closed is the old one: a link dropped (its relay killed, say)
    // and was redialled at once, before libp2p reported the disconnect. Dial once more: a relay
    // that is gone refuses it, and its neighbors need that strong evidence (a refused dial) to
    // declare it dead within a second or two, rather than the long wait of a suspicion nobody
    // can confirm.
    if (o.redials++ === 0) this.dial(remote, o)
    else this.failOpen(remote, 'the connection closed')
  }

  private inbound(stream: ByteStream, sinks: LinkSinks): void {
    if (stream.kind === 'link') this.adopt(stream, true)
    else this.tunnelStream(stream, stream.remotePeer, sinks.tunnels)
  }

  private tunnelStream(stream: ByteStream | Promise<ByteStream>, peer: string, sink: TunnelSink, cancelOpen?: () => void): TunnelStream {
    const l = this.init.limits
    // Count the tunnels to each relay: its connection is not hung up while one is open.
    const counted: TunnelSink = {
      attach: (t) => {
        this.tunnels.set(peer, (this.tunnels.get(peer) ?? 0) + 1)
        sink.attach(t)
      },
      detach: (t, why) => {
        const n = (this.tunnels.get(peer) ?? 1) - 1
        if (n <= 0) this.tunnels.delete(peer)
        else this.tunnels.set(peer, n)
        if (why !== 'tunnel closed') this.init.log.debug({ event: 'tunnel.stream_lost', peer, reason: why }, `a tunnel stream to ${peer} ended without a close: ${why}`)
        sink.detach(t, why)
      },
      // A frame on a tunnel stream is a sign of life as good as one on the link: a tunnel
      // filling a slow path delays the relay's pongs behind its data, and that silence on the
      // link is not evidence while its tunnel keeps delivering.
      openTunnel: (t, f) => { this.heard(peer); sink.openTunnel(t, f) },
      tunnelAccept: (t, id, allowance) => { this.heard(peer); sink.tunnelAccept(t, id, allowance) },
      tunnelData: (t, id, payload) => { this.heard(peer); sink.tunnelData(t, id, payload) },
      tunnelAllowance: (t, id, bytes) => { this.heard(peer); sink.tunnelAllowance(t, id, bytes) },
      tunnelClose: (t, id, code, reason) => sink.tunnelClose(t, id, code, reason),
    }
    const t = new TunnelStream({ stream, sink: counted, maxFrameBytes: this.init.maxFrameBytes, stallMs: l.tunnelStreamStallMs,
      clock: this.init.clock, log: this.init.log, ...(cancelOpen !== undefined ? { cancelOpen } : {}) })
    counted.attach(t)
    return t
  }

  private heard(peer: string): void {
    if (this.links.has(peer)) this.sinks?.control.heard(peer)
  }

  private adopt(stream: ByteStream, inbound: boolean): void {
    if (this.stopped) {
      stream.abort(new Error('relay stopping'))
      return
    }
    const l = this.init.limits
    // The link reports through these events; frames come only after its handshake.
    new PeerLink({
      stream, self: this.self, network: this.init.network, maxFrameBytes: this.init.maxFrameBytes,
      highWaterBytes: l.linkHighWaterBytes, maxBacklogBytes: l.maxLinkBacklogBytes, log: this.init.log,
      inbound,
      events: {
        ready: (link) => this.linkUp(link),
        received: (link) => this.sinks?.control.heard(link.remote),
        frame: (link, type, buf, start, end) => this.onFrame(link, type, buf, start, end),
        closed: (link, why) => this.linkDown(link, why),
        writable: () => this.linkWritable(),
      },
    })
  }

  private linkUp(link: PeerLink): void {
    this.failures.delete(link.remote)
    this.init.log.info({ event: 'link.up', peer: link.remote, direction: link.inbound ? 'inbound' : 'outbound' }, `link to ${link.remote} up`)
    const old = this.links.get(link.remote)
    this.links.set(link.remote, link)
    if (old !== undefined && old !== link) old.close('replaced by a newer link')
    link.lastUsed = this.tick
    this.generation++
    const o = this.opening.get(link.remote)
    if (o !== undefined) {
      this.opening.delete(link.remote)
      this.init.clock.clearTimeout(o.timer)
      // What waited for the link leaves first, in the order it was sent.
      for (const bytes of o.pending.take()) link.sendRaw(bytes)
    }
    this.sinks?.data.linkUp(link)
    this.sinks?.control.linkUp(link.remote)
  }

  private linkDown(link: PeerLink, why: string): void {
    if (this.links.get(link.remote) !== link) {
      // A replaced link, or one that closed before its handshake: if a link is still wanted, get one.
      if (!this.stopped && this.opening.has(link.remote) && this.overlay.isConnected(link.remote)) this.onConnect(link.remote, 1)
      return
    }
    this.links.delete(link.remote)
    this.generation++
    this.init.log.info({ event: 'link.down', peer: link.remote, reason: why, bytesIn: link.bytesIn, bytesOut: link.bytesOut },
      `link to ${link.remote} down: ${why}`)
    this.sinks?.data.linkDown(link, why)
    this.sinks?.control.linkDown(link.remote)
  }

  /** A link drained (or closed): wake the waiting publishers if no link is congested now. */
  private linkWritable(): void {
    for (const l of this.links.values()) if (l.congested) return
    const waiters = this.writableWaiters
    this.writableWaiters = []
    for (const w of waiters) w()
  }

  // ---- idle links ---------------------------------------------------------------------

  private housekeep(): void {
    this.tick++
    if (this.tick % 5 !== 0) return
    const idleTicks = Math.ceil(this.init.limits.linkIdleMs / TICK_MS)
    for (const [peer, l] of [...this.links]) {
      if (this.tick - l.lastUsed >= idleTicks) this.closeIfUnused(peer, l, 'idle')
    }
  }

  private closeIfUnused(peer: string, l: PeerLink, why: string): boolean {
    const sinks = this.sinks
    if (sinks === undefined || sinks.control.holds(peer) || sinks.data.inUse(peer) || (this.tunnels.get(peer) ?? 0) > 0 || this.opening.has(peer)) return false
    this.idleClosed++
    l.close(why)
    void this.overlay.hangUp(peer)
    return true
  }

  /** At the cap: the least recently used link nothing holds goes. */
  private evictIfFull(): void {
    if (this.links.size + this.opening.size < this.init.limits.maxLinks) return
    const byAge = [...this.links].sort((a, b) => a[1].lastUsed - b[1].lastUsed)
    for (const [peer, l] of byAge) {
      if (this.closeIfUnused(peer, l, 'too many links: least recently used')) {
        this.evicted++
        return
      }
    }
  }

  // ---- frames -------------------------------------------------------------------------

  private onFrame(link: PeerLink, type: number, buf: Uint8Array, start: number, end: number): void {
    const sinks = this.sinks
    if (sinks === undefined) return
    // Events are forwarded to local receivers as received (the same bytes).
    if (type === FrameType.event) {
      link.lastUsed = this.tick
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
        link.lastUsed = this.tick
        sinks.data.frame(link.remote, f, buf.subarray(start, end))
        return
      case FrameType.control:
        this.controlBytesIn += end - start
        sinks.control.control(link.remote, f.body)
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
        this.init.log.warn({ event: 'peer.protocol_violation', peer: link.remote, frameType: f.type },
          `peer ${link.remote} sent frame 0x${f.type.toString(16)} on the link; disconnecting it`)
        link.close('protocol violation')
    }
  }
}
