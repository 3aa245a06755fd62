import type { Socket } from 'node:net'
import {
  ErrorCode, FrameBatcher, FrameDecoder, FrameType, NameReader, PROTOCOL_VERSION, Role, WireError, parseFrame,
  type Frame, type MemberLimits,
} from '@herald/wire'
import type { OutQueue } from './outqueue.js'
import type { Endpoint, Router } from './router.js'
import { MAX_UNREAD_BYTES, SOCKET_HIGH_WATER } from './constants.js'

export interface SessionInit {
  id: number
  socket: Socket
  router: Router
  nodeId: string
  maxMessageBytes: number
  maxFrameBytes: number
  onClose: (session: Session) => void
  log: (msg: string) => void
}

interface QueueRef {
  queue: OutQueue
  topic: string | undefined
}

/**
 * One client connection: handshake, frame decoding, per-client state, and the write side
 * (coalesced; droppable traffic queued per receiver while the socket is backed up).
 */
export class Session implements Endpoint {
  readonly id: number
  private readonly socket: Socket
  private readonly router: Router
  private readonly decoder: FrameDecoder
  private readonly names = new NameReader()
  private readonly batcher: FrameBatcher
  private readonly init: SessionInit
  private welcomed = false
  role: Role = Role.client
  private isClosed = false
  /** Queues holding frames because the socket was backed up, in the order they filled. */
  private backlog = new Set<QueueRef>()
  private readonly backlogRefs = new Map<OutQueue, QueueRef>()
  readonly openedAt = Date.now()
  /** When a frame last completed, or the decoder was empty (for the stall check). */
  lastProgressAt = Date.now()
  bytesIn = 0
  framesIn = 0

  constructor(init: SessionInit) {
    this.init = init
    this.id = init.id
    this.socket = init.socket
    this.router = init.router
    this.decoder = new FrameDecoder({ maxFrameBytes: init.maxFrameBytes })
    this.batcher = new FrameBatcher({
      sink: (bytes) => { if (!this.isClosed) this.socket.write(bytes) },
      alloc: (n) => Buffer.allocUnsafe(n),
    })
    this.socket.setNoDelay(true)
    this.socket.on('data', (chunk: Buffer) => this.receive(chunk))
    this.socket.on('drain', () => this.drainBacklog())
    this.socket.on('error', () => this.destroy('socket error'))
    this.socket.on('close', () => this.destroy('connection closed'))
  }

  get closed(): boolean {
    return this.isClosed
  }

  get welcomedAt(): boolean {
    return this.welcomed
  }

  /** Bytes received but not yet a whole frame (a stalled half frame shows here). */
  get partialBytes(): number {
    return this.decoder.buffered
  }

  get unreadBytes(): number {
    return this.socket.writableLength + this.batcher.pending
  }

  // ---- Endpoint ---------------------------------------------------------------------

  send(frame: Frame): void {
    if (!this.isClosed) this.batcher.push(frame)
  }

  sendDroppable(queue: OutQueue, frame: Uint8Array, topic: string | undefined): boolean {
    if (this.isClosed) return false
    if (queue.empty && this.socket.writableLength + this.batcher.pending <= SOCKET_HIGH_WATER) {
      this.batcher.pushRaw(frame)
      return true
    }
    let ref = this.backlogRefs.get(queue)
    if (ref === undefined) {
      ref = { queue, topic }
      this.backlogRefs.set(queue, ref)
    }
    this.backlog.add(ref)
    const ok = queue.offer(frame)
    if (this.socket.writableLength === 0) this.drainBacklog()
    return ok
  }

  /** The socket drained: move queued frames out, and tell subscribers what was dropped. */
  private drainBacklog(): void {
    for (const ref of this.backlog) {
      const q = ref.queue
      if (q.unreported > 0 && ref.topic !== undefined) {
        this.batcher.push({ type: FrameType.dropped, topic: ref.topic, count: q.unreported })
        q.unreported = 0
      }
      for (;;) {
        if (this.socket.writableLength + this.batcher.pending > SOCKET_HIGH_WATER) return
        const block = q.take()
        if (block === undefined) break
        this.batcher.pushOwned(block)
      }
      this.backlog.delete(ref)
      this.backlogRefs.delete(q)
    }
  }

  // ---- reading ----------------------------------------------------------------------

  private receive(chunk: Buffer): void {
    if (this.isClosed) return
    this.bytesIn += chunk.length
    this.decoder.push(chunk)
    const framesBefore = this.framesIn
    const d = this.decoder
    try {
      for (;;) {
        const type = d.advance()
        if (type < 0) break
        this.framesIn++
        if (!this.welcomed) {
          this.handshake(parseFrame(type, d.buf.subarray(d.start + 5, d.end)))
        } else if (type === FrameType.publish) {
          // Hot path: fan out the received bytes as an EVENT, decoding only the topic.
          const buf = d.buf
          const topic = this.names.read(buf, d.start, d.end)
          if (d.end - this.names.payloadStart > this.init.maxMessageBytes) {
            this.fail(ErrorCode.tooLarge, `message of ${d.end - this.names.payloadStart} bytes exceeds the limit of ${this.init.maxMessageBytes}`)
            return
          }
          buf[d.start + 4] = FrameType.event
          if (this.router.publish(topic, new Uint8Array(buf.buffer, buf.byteOffset + d.start, d.end - d.start))) this.pauseForLinks()
        } else {
          const frame = d.buf.subarray(d.start, d.end)
          this.handle(parseFrame(type, frame.subarray(5)), frame)
        }
        if (this.isClosed) return
      }
      if (this.framesIn !== framesBefore || d.buffered === 0) this.lastProgressAt = Date.now()
    } catch (err) {
      if (err instanceof WireError) this.fail(err.code, err.message)
      else this.fail(ErrorCode.protocol, `internal error: ${(err as Error).message}`)
    }
  }

  private handshake(f: Frame): void {
    if (f.type !== FrameType.hello) return this.fail(ErrorCode.protocol, 'expected HELLO as the first frame')
    if (f.version !== PROTOCOL_VERSION) {
      return this.fail(ErrorCode.version, `protocol version ${f.version} is not supported (this relay speaks ${PROTOCOL_VERSION})`)
    }
    this.role = f.role
    this.welcomed = true
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
      case FrameType.request:
        if (this.checkPayload(f.payload)) r.request(this, f)
        return
      case FrameType.reply:
        if (this.checkPayload(f.payload)) r.memberAnswer(this, f.id, f)
        return
      case FrameType.failure:
        r.memberAnswer(this, f.id, f)
        return
      case FrameType.broadcast:
        if (this.checkPayload(f.payload) && r.broadcast(f.cluster, bytes)) this.pauseForLinks()
        return
      case FrameType.register: {
        if (this.role !== Role.member) {
          this.send({ type: FrameType.ack, seq: f.seq, code: ErrorCode.invalid, message: 'only a connection with the member role may register' })
          return
        }
        const limits: MemberLimits = {
          requestConcurrency: f.requestConcurrency, requestMemory: f.requestMemory,
          broadcastConcurrency: f.broadcastConcurrency, broadcastMemory: f.broadcastMemory,
        }
        const res = f.cluster.startsWith('$')
          ? { code: ErrorCode.invalid, message: 'cluster names starting with "$" are reserved' }
          : r.register(this, f.cluster, limits)
        this.send({ type: FrameType.ack, seq: f.seq, ...res })
        return
      }
      case FrameType.unregister:
        this.send({ type: FrameType.ack, seq: f.seq, ...r.unregister(this, f.cluster) })
        return
      case FrameType.subscribe:
        this.send({ type: FrameType.ack, seq: f.seq, ...r.subscribe(this, f.topic, f.memoryLimit) })
        return
      case FrameType.unsubscribe:
        this.send({ type: FrameType.ack, seq: f.seq, ...r.unsubscribe(this, f.topic) })
        return
      case FrameType.tunnelOpen:
        r.openTunnel(this, f)
        return
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
      default:
        this.fail(ErrorCode.protocol, `frame 0x${f.type.toString(16)} is not sent by clients`)
    }
  }

  private pausedForLinks = false

  /** A link to another relay is congested: stop reading this publisher until it drains. */
  private pauseForLinks(): void {
    if (this.pausedForLinks) return
    this.pausedForLinks = true
    this.socket.pause()
    this.router.whenWritable(() => {
      this.pausedForLinks = false
      if (!this.isClosed) this.socket.resume()
    })
  }

  // ---- closing ----------------------------------------------------------------------

  /** Sends an ERROR frame, then closes the connection. */
  fail(code: ErrorCode, message: string): void {
    if (this.isClosed) return
    this.init.log(`client ${this.id}: ${message}; closing the connection`)
    this.batcher.push({ type: FrameType.error, code, message })
    this.batcher.flush()
    this.finish(`protocol error: ${message}`)
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }

  /** Says goodbye with a CLOSE frame (relay shutdown) and closes. */
  goodbye(code: ErrorCode, reason: string): void {
    if (this.isClosed) return
    this.batcher.push({ type: FrameType.close, code, reason })
    this.end()
  }

  private end(): void {
    if (this.isClosed) return
    this.batcher.flush()
    this.finish('closed by the client')
    this.socket.end()
    setTimeout(() => this.socket.destroy(), 1000).unref()
  }

  private destroy(why: string): void {
    if (this.isClosed) return
    this.finish(why)
    this.socket.destroy()
  }

  private finish(why: string): void {
    this.isClosed = true
    this.batcher.discard()
    this.backlog.clear()
    this.backlogRefs.clear()
    if (this.welcomed) this.router.detach(this, `the member's connection closed (${why})`)
    this.init.onClose(this)
  }

  /** Housekeeping: called periodically by the client server. */
  check(now: number, stallMs: number, handshakeMs: number): void {
    if (this.isClosed) return
    if (!this.welcomed && now - this.openedAt > handshakeMs) {
      this.fail(ErrorCode.timeout, `no handshake within ${handshakeMs} ms`)
    } else if (this.decoder.buffered > 0 && now - this.lastProgressAt > stallMs) {
      this.fail(ErrorCode.timeout, `a partial frame (${this.decoder.buffered} bytes) stalled for more than ${stallMs} ms`)
    } else if (this.socket.writableLength > MAX_UNREAD_BYTES) {
      this.destroy(`client left more than ${MAX_UNREAD_BYTES} bytes unread`)
    }
  }
}
