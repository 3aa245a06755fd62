import { FrameChannel, FrameType, PROTOCOL_VERSION, WireError, parseFrameAt, type Frame } from '@herald/wire'
import type { ByteStream } from '../overlay/overlay.js'
import type { Logger } from '../log.js'
import { StreamSink } from './stream-sink.js'

/** What became of a droppable frame (an event or broadcast for another relay). */
export const SENT = 0
export const SENT_CONGESTED = 1
export const DROPPED = 2
export type SendOutcome = typeof SENT | typeof SENT_CONGESTED | typeof DROPPED

export interface PeerLinkEvents {
  /** The other relay said a valid PEER_HELLO: frames flow from now on. */
  ready(link: PeerLink): void
  /** Bytes arrived (any, before they are cut into frames): a sign of life. */
  received(link: PeerLink): void
  /** One frame after the handshake: `buf[start, end)`, header included, valid during the call. */
  frame(link: PeerLink, type: number, buf: Uint8Array, start: number, end: number): void
  /** Reported once, however the link ended. */
  closed(link: PeerLink, why: string): void
  /** The link drained below its high-water mark (or closed): paused publishers may go on. */
  writable(): void
}

export interface PeerLinkInit {
  stream: ByteStream
  /** Our node id and network, for the handshake. */
  self: string
  network: string
  maxFrameBytes: number
  /** Past this many unsent bytes the link is congested. */
  highWaterBytes: number
  /** Past this many unsent bytes, droppable frames are dropped. */
  maxBacklogBytes: number
  events: PeerLinkEvents
  log: Logger
  /** The other relay opened this link. */
  inbound: boolean
}

/**
 * One long-lived stream to another relay. Frames are coalesced into large sends (never one
 * stream send per small message); what the stream has not taken yet is bounded: droppable
 * traffic (events, broadcasts) is dropped past maxBacklogBytes, control traffic is not.
 * Back-pressure is the link's own business: a congested link pauses the local publishers
 * (see Router.whenWritable), which keeps its latency low for requests, heartbeats and the
 * overlay's pings.
 */
export class PeerLink {
  readonly remote: string
  readonly inbound: boolean
  private readonly init: PeerLinkInit
  private readonly channel: FrameChannel
  private ready = false
  private isClosed = false
  dropped = 0
  /** When data last went either way (the link manager's coarse clock), for closing idle links. */
  lastUsed = 0

  constructor(init: PeerLinkInit) {
    this.init = init
    this.remote = init.stream.remotePeer
    this.inbound = init.inbound
    const stream = init.stream
    this.channel = new FrameChannel({
      sink: new StreamSink(() => stream, (err) => this.close(`send failed: ${err.message}`)),
      maxFrameBytes: init.maxFrameBytes,
      alloc: (n) => Buffer.allocUnsafe(n),
      onFrame: (type, buf, start, end) => this.onFrame(type, buf, start, end),
      onError: (_code, message, cause) => this.close(cause instanceof WireError ? `peer sent malformed data: ${message}` : message),
      onDrain: () => { if (!this.congested) init.events.writable() },
    })
    stream.attach({
      message: (bytes) => {
        if (this.ready) init.events.received(this)
        this.channel.receive(bytes)
      },
      drain: () => this.channel.drained(),
      // A link is two-way: once the peer closed its side (it dropped this link, e.g. as a
      // duplicate), nothing will ever arrive here, and what we send is ignored. 'close' alone
      // fires only when both sides closed, so without this the link would stay up, dead.
      remoteClose: () => this.close('the peer closed the link'),
      close: () => this.finish('stream closed'),
    })
    this.channel.send({ type: FrameType.peerHello, version: PROTOCOL_VERSION, network: init.network, nodeId: init.self })
  }

  get closed(): boolean {
    return this.isClosed
  }

  get bytesIn(): number {
    return this.channel.bytesIn
  }

  get bytesOut(): number {
    return this.channel.bytesOut
  }

  /** Bytes accepted and not yet taken by the stream. */
  get pending(): number {
    return this.channel.pending
  }

  /** More is queued than the link should hold: local publishers should wait. */
  get congested(): boolean {
    return this.pending > this.init.highWaterBytes
  }

  /**
   * Requests, replies, tunnel frames, control: ahead of held events (FrameChannel.sendUrgent),
   * so that a request or a probe does not wait behind megabytes of a pub/sub stream. They keep
   * their order among themselves; events are independent of them.
   */
  send(frame: Frame): void {
    this.channel.sendUrgent(frame)
  }

  /** After everything already accepted (the goodbye before a link is closed). */
  sendLast(frame: Frame): void {
    this.channel.send(frame)
  }

  /**
   * Pre-encoded frame bytes (fan-out of one event to many relays): dropped past the backlog
   * limit; congested once the backlog (read once, before the frame joins it) passes the
   * high-water mark. A publisher paused on a stale "congested" is resumed at once by
   * whenWritable, which reads every link afresh.
   */
  sendDroppable(frame: Uint8Array): SendOutcome {
    if (this.isClosed) return DROPPED
    const pending = this.pending
    if (pending > this.init.maxBacklogBytes) {
      this.dropped++
      return DROPPED
    }
    this.channel.sendRaw(frame)
    return pending + frame.length > this.init.highWaterBytes ? SENT_CONGESTED : SENT
  }

  /** Pre-encoded frames that must not be dropped (what waited while the link was opened). */
  sendRaw(bytes: Uint8Array): void {
    if (!this.isClosed) this.channel.sendRaw(bytes)
  }

  /** Closes the link (flushing what is batched) and reports it once. */
  close(why: string): void {
    if (this.isClosed) return
    this.channel.flush()
    this.finish(why)
    const s = this.init.stream
    s.close().catch(() => s.abort(new Error(why)))
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (this.ready) {
      this.init.events.frame(this, type, buf, start, end)
      return
    }
    const f = parseFrameAt(type, buf, start, end)
    if (f.type !== FrameType.peerHello || f.version !== PROTOCOL_VERSION || f.network !== this.init.network || f.nodeId !== this.remote) {
      this.init.log.warn({ event: 'link.handshake_failed', peer: this.remote }, `peer ${this.remote} failed the link handshake; disconnecting it`)
      this.close('bad handshake')
      return
    }
    this.ready = true
    this.init.events.ready(this)
  }

  private finish(why: string): void {
    if (this.isClosed) return
    this.isClosed = true
    this.channel.close()
    this.init.events.closed(this, why)
    this.init.events.writable()
  }
}
