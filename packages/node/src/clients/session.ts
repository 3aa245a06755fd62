import {
  ErrorCode, FRAME_HEADER_BYTES, FrameChannel, FrameType, NameReader, PROTOCOL_VERSION, Role, parseFrameAt,
  type Frame, type FrameSink, type MemberLimits, type RegisterFrame,
} from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Logger } from '../log.js'
import type { Ack, ClientEndpoint, Outlet } from '../routing/endpoint.js'
import { IdMap } from '../routing/id-map.js'
import type { Router } from '../routing/router.js'
import { PUBLISH_LINKS_CONGESTED, PUBLISH_RECEIVER_BEHIND } from '../routing/topics.js'
import { limitAck, overLimit, registrationRefusal, type ClientLimits } from './admission.js'
import { ClientOutlet, type OutletHost } from './outlet.js'
import type { ClientSocket } from './socket.js'

/**
 * A socket buffers what it cannot send yet: the channel never holds, the outlets do. A class
 * (one shape for every session): `buffered` is read on every fan-out delivery.
 */
class SocketSink implements FrameSink {
  constructor(private readonly socket: ClientSocket) {}
  write(bytes: Uint8Array): boolean {
    this.socket.write(bytes)
    return true
  }
  get buffered(): number {
    return this.socket.writableLength
  }
}

/** How long a publisher is held off when a local subscriber is behind (stallForReceiver). */
export const PUBLISHER_STALL_MS = 2

export interface SessionInit {
  id: number
  socket: ClientSocket
  router: Router
  nodeId: string
  maxMessageBytes: number
  maxFrameBytes: number
  clock: Clock
  limits: ClientLimits & Pick<RelayLimits, 'clientHighWaterBytes' | 'maxUnreadBytes' | 'closeLingerMs'>
  onClose: (session: Session) => void
  log: Logger
  /** The relay cut this client for a protocol error (or the client reported one). */
  onCut: () => void
}

/**
 * One client connection: the handshake, the client protocol (frames to and from the router),
 * the per-client limits, and the write side (coalesced; droppable traffic queued per
 * receiver in its outlet while the socket is backed up).
 */
export class Session implements ClientEndpoint, OutletHost {
  readonly kind = 'client' as const
  readonly id: number
  readonly channel: FrameChannel
  readonly highWaterBytes: number
  /** What WELCOME advertised: the largest payload this client sends or is handed. */
  readonly maxMessageBytes: number
  private readonly socket: ClientSocket
  private readonly router: Router
  private readonly names = new NameReader()
  private readonly init: SessionInit
  private welcomed = false
  role: Role = Role.client
  private isClosed = false
  private pausedForLinks = false
  /** Held off for PUBLISHER_STALL_MS: a local subscriber of what it publishes is behind. */
  private stalled = false
  /** Outlets holding frames because the socket was backed up, in the order they filled. */
  private readonly backlog = new Set<ClientOutlet>()
  /**
   * Ids of this client's requests not answered yet: a REQUEST reusing one is refused. Bounded
   * by maxPendingRequestsPerClient (plus lookups in progress); every answer passes through send().
   */
  private readonly pendingIds = new IdMap<true>()
  private readonly openedAt: number
  /** When a frame last completed, or the decoder was empty (for the stall check). */
  private lastProgressAt: number

  constructor(init: SessionInit) {
    this.init = init
    this.id = init.id
    this.socket = init.socket
    this.router = init.router
    this.highWaterBytes = init.limits.clientHighWaterBytes
    this.maxMessageBytes = init.maxMessageBytes
    this.openedAt = this.lastProgressAt = init.clock.now()
    const socket = init.socket
    this.channel = new FrameChannel({
      sink: new SocketSink(socket),
      maxFrameBytes: init.maxFrameBytes,
      alloc: (n) => Buffer.allocUnsafe(n),
      onFrame: (type, buf, start, end) => this.onFrame(type, buf, start, end),
      onError: (code, message) => this.fail(code, message),
      onDrain: () => this.drainBacklog(),
    })
    socket.on('data', (chunk) => this.receive(chunk))
    socket.on('drain', () => this.channel.drained())
    socket.on('error', () => this.destroy('socket error'))
    socket.on('close', () => this.destroy('connection closed'))
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** Bytes received but not yet a whole frame (a stalled half frame shows here). */
  get partialBytes(): number {
    return this.channel.partialBytes
  }

  // ---- ClientEndpoint -----------------------------------------------------------------

  send(frame: Frame): void {
    // The relay sends a client REPLY and FAILURE only as answers to its own requests.
    if (frame.type === FrameType.reply || frame.type === FrameType.failure) this.pendingIds.delete(frame.id)
    this.channel.send(frame)
  }

  outlet(memoryLimit: number, topic: string | undefined): Outlet {
    return new ClientOutlet(this, memoryLimit, topic)
  }

  backlogged(outlet: ClientOutlet): void {
    this.backlog.add(outlet)
    // Nothing in the socket means no 'drain' will come: move what fits now.
    if (this.socket.writableLength === 0) this.drainBacklog()
  }

  /** The socket drained: move queued frames out, and tell subscribers what was dropped. */
  private drainBacklog(): void {
    for (const outlet of this.backlog) {
      if (!outlet.flush()) return
      this.backlog.delete(outlet)
    }
  }

  // ---- reading ------------------------------------------------------------------------

  private receive(chunk: Uint8Array): void {
    if (this.isClosed) return
    const frames = this.channel.receive(chunk)
    if (!this.isClosed && (frames > 0 || this.channel.partialBytes === 0)) this.lastProgressAt = this.init.clock.now()
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (!this.welcomed) {
      this.handshake(parseFrameAt(type, buf, start, end))
    } else if (type === FrameType.publish) {
      // Hot path: fan out the received bytes as an EVENT, decoding only the topic.
      const topic = this.names.read(buf, start, end)
      if (end - this.names.payloadStart > this.init.maxMessageBytes) {
        this.fail(ErrorCode.tooLarge, `message of ${end - this.names.payloadStart} bytes exceeds the limit of ${this.init.maxMessageBytes}`)
        return
      }
      buf[start + FRAME_HEADER_BYTES - 1] = FrameType.event
      const outcome = this.router.publish(this, topic, new Uint8Array(buf.buffer, buf.byteOffset + start, end - start))
      if (outcome === PUBLISH_LINKS_CONGESTED) this.pauseForLinks()
      else if (outcome === PUBLISH_RECEIVER_BEHIND) this.stallForReceiver()
    } else {
      this.handle(parseFrameAt(type, buf, start, end), buf.subarray(start, end))
    }
  }

  private handshake(f: Frame): void {
    if (f.type !== FrameType.hello) return this.fail(ErrorCode.protocol, 'expected HELLO as the first frame')
    if (f.version !== PROTOCOL_VERSION) {
      return this.fail(ErrorCode.version, `protocol version ${f.version} is not supported (this relay speaks ${PROTOCOL_VERSION})`)
    }
    this.role = f.role
    this.welcomed = true
    this.init.log.debug({ event: 'client.connected', client: this.id, role: f.role }, `client ${this.id} connected`)
    this.router.attach(this)
    this.send({ type: FrameType.welcome, version: PROTOCOL_VERSION, maxMessageBytes: this.init.maxMessageBytes, nodeId: this.init.nodeId })
  }

  private checkPayload(p: Uint8Array): boolean {
    if (p.length <= this.init.maxMessageBytes) return true
    this.fail(ErrorCode.tooLarge, `message of ${p.length} bytes exceeds the limit of ${this.init.maxMessageBytes}`)
    return false
  }

  private handle(f: Frame, bytes: Uint8Array): void {
    const r = this.router
    switch (f.type) {
      case FrameType.request: {
        if (!this.checkPayload(f.payload)) return
        if (this.pendingIds.has(f.id)) {
          // Not through send(): this answer must leave the pending request's id reserved.
          this.channel.send({ type: FrameType.failure, id: f.id, code: ErrorCode.invalid, message: `request id ${f.id} is already pending on this connection` })
          return
        }
        const over = this.over(f)
        if (over !== undefined) {
          this.send({ type: FrameType.failure, id: f.id, code: ErrorCode.limit, message: over })
          return
        }
        // Before routing: the answer may come at once (the relay's status, no members).
        this.pendingIds.set(f.id, true)
        r.request(this, f)
        return
      }
      case FrameType.reply:
        if (this.checkPayload(f.payload)) r.memberAnswer(this, f.id, f)
        return
      case FrameType.failure:
        r.memberAnswer(this, f.id, f)
        return
      case FrameType.broadcast:
        if (this.checkPayload(f.payload) && r.broadcast(this, f.cluster, bytes)) this.pauseForLinks()
        return
      case FrameType.register:
        this.send({ type: FrameType.ack, seq: f.seq, ...this.register(f) })
        return
      case FrameType.unregister:
        this.send({ type: FrameType.ack, seq: f.seq, ...r.unregister(this, f.cluster) })
        return
      case FrameType.subscribe:
        this.send({ type: FrameType.ack, seq: f.seq, ...(limitAck(this.init.limits, r.usage(this), f) ?? r.subscribe(this, f.topic, f.memoryLimit)) })
        return
      case FrameType.unsubscribe:
        this.send({ type: FrameType.ack, seq: f.seq, ...r.unsubscribe(this, f.topic) })
        return
      case FrameType.tunnelOpen: {
        const over = this.over(f)
        if (over !== undefined) this.send({ type: FrameType.tunnelClose, tunnel: f.tunnel, code: ErrorCode.limit, reason: over })
        else r.openTunnel(this, f)
        return
      }
      case FrameType.tunnelAccept:
        r.tunnelAccept(this, f.tunnel, f.allowance)
        return
      case FrameType.tunnelData:
        if (this.checkPayload(f.payload)) r.tunnelData(this, f.tunnel, f.payload)
        return
      case FrameType.tunnelAllowance:
        r.tunnelAllowance(this, f.tunnel, f.bytes)
        return
      case FrameType.tunnelClose:
        r.tunnelClose(this, f.tunnel, f.code, f.reason)
        return
      case FrameType.ping:
        this.send({ type: FrameType.pong, token: f.token })
        return
      case FrameType.pong:
        return
      case FrameType.close:
        this.end()
        return
      case FrameType.error:
        // A client that cannot decode what we sent says so and hangs up: answering it could
        // only repeat the problem, so it is a goodbye like CLOSE (protocol.md, CLOSE and ERROR).
        this.init.onCut()
        this.init.log.warn({ event: 'client.error', client: this.id, code: f.code, reason: f.message },
          `client ${this.id} sent ERROR (code ${f.code}): ${f.message}; closing the connection`)
        this.end()
        return
      default:
        this.fail(ErrorCode.protocol, `frame 0x${f.type.toString(16)} is not sent by clients`)
    }
  }

  /** Why `f` would take this client past one of its limits (see overLimit). */
  private over(f: Frame): string | undefined {
    return overLimit(this.init.limits, this.router.usage(this), f)
  }

  private register(f: RegisterFrame): Ack {
    const refused = registrationRefusal(this.role, f, this.init.limits, this.router.usage(this))
    if (refused !== undefined) return refused
    const limits: MemberLimits = {
      requestConcurrency: f.requestConcurrency, requestMemory: f.requestMemory,
      broadcastConcurrency: f.broadcastConcurrency, broadcastMemory: f.broadcastMemory,
    }
    return this.router.register(this, f.cluster, limits)
  }

  /** A link to another relay is congested: stop reading this publisher until it drains. */
  private pauseForLinks(): void {
    if (this.pausedForLinks) return
    this.pausedForLinks = true
    this.socket.pause()
    this.router.whenWritable(() => {
      this.pausedForLinks = false
      if (!this.isClosed && !this.stalled) this.socket.resume()
    })
  }

  /**
   * A fast producer stall, as nats-server does it: a local subscriber is behind (its queue
   * here holds more than its outlet's threshold, with room left), so this publisher's socket
   * is not read for PUBLISHER_STALL_MS. TCP carries the hold back to the publisher, whose
   * writes wait; the subscriber's queue stops growing while it catches up. Bounded: each stall
   * is short, a subscriber whose queue is nearly full stops stalling anyone (it drops instead),
   * and a publisher nobody lags behind is never held. Without it a subscriber 0.3 s behind a
   * 64 B stream held ~40 MiB here.
   */
  private stallForReceiver(): void {
    if (this.stalled || this.pausedForLinks) return
    this.stalled = true
    this.router.counters.publisherStalls++
    this.socket.pause()
    this.init.clock.setTimeout(() => {
      this.stalled = false
      if (!this.isClosed && !this.pausedForLinks) this.socket.resume()
    }, PUBLISHER_STALL_MS)
  }

  // ---- closing ------------------------------------------------------------------------

  /** Sends an ERROR frame, then closes the connection. */
  fail(code: ErrorCode, message: string): void {
    if (this.isClosed) return
    this.init.onCut()
    this.init.log.warn({ event: 'client.cut', client: this.id, code, reason: message }, `client ${this.id}: ${message}; closing the connection`)
    this.channel.send({ type: FrameType.error, code, message })
    this.channel.flush()
    this.finish(`protocol error: ${message}`)
    this.linger()
  }

  /** Says goodbye with a CLOSE frame (relay shutdown) and closes. */
  goodbye(code: ErrorCode, reason: string): void {
    if (this.isClosed) return
    this.channel.send({ type: FrameType.close, code, reason })
    this.end()
  }

  private end(): void {
    if (this.isClosed) return
    this.channel.flush()
    this.finish('closed by the client')
    this.linger()
  }

  /** Ends our side; a client that does not close its side in time is cut. */
  private linger(): void {
    this.socket.end()
    this.init.clock.setTimeout(() => this.socket.destroy(), this.init.limits.closeLingerMs).unref?.()
  }

  private destroy(why: string): void {
    if (this.isClosed) return
    this.finish(why)
    this.socket.destroy()
  }

  private finish(why: string): void {
    this.isClosed = true
    if (this.welcomed) this.init.log.debug({ event: 'client.closed', client: this.id, reason: why }, `client ${this.id} closed: ${why}`)
    this.channel.close()
    this.backlog.clear()
    if (this.welcomed) this.router.detach(this, `the member's connection closed (${why})`)
    this.init.onClose(this)
  }

  /** Housekeeping: called periodically by the client server. */
  check(now: number, stallMs: number, handshakeMs: number): void {
    if (this.isClosed) return
    const maxUnread = this.init.limits.maxUnreadBytes
    if (!this.welcomed && now - this.openedAt > handshakeMs) {
      this.fail(ErrorCode.timeout, `no handshake within ${handshakeMs} ms`)
    } else if (this.channel.partialBytes > 0 && now - this.lastProgressAt > stallMs) {
      this.fail(ErrorCode.timeout, `a partial frame (${this.channel.partialBytes} bytes) stalled for more than ${stallMs} ms`)
    } else if (this.socket.writableLength > maxUnread) {
      this.init.log.warn({ event: 'client.cut', client: this.id, code: ErrorCode.limit, reason: 'unread output', unreadBytes: this.socket.writableLength },
        `client ${this.id} left more than ${maxUnread} bytes unread; closing the connection`)
      this.destroy(`client left more than ${maxUnread} bytes unread`)
    }
  }
}
