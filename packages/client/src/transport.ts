import { connect as netConnect } from 'node:net'
import {
  ErrorCode, FrameChannel, FrameType, NameReader, PROTOCOL_VERSION, WireError, parseFrameAt,
  type Frame, type FrameSink, type Role, type WelcomeFrame,
} from '@herald/wire'
import { ClosedError, HeraldError, errorFromWire } from './errors.js'
import { SOCKET_HIGH_WATER } from './constants.js'

/** What the SDK needs of its connection to the relay: node:net's Socket fits, so does an in-process one. */
export interface RelaySocket {
  write(bytes: Uint8Array): boolean
  readonly writableLength: number
  end(): unknown
  destroy(): unknown
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on(event: 'drain' | 'close' | 'connect', listener: () => void): unknown
  on(event: 'error', listener: (err: Error & { code?: string }) => void): unknown
  once(event: 'close' | 'connect', listener: () => void): unknown
}

/** The channel's sink: the socket buffers what it cannot send yet. A class, one shape for every connection. */
class SocketSink implements FrameSink {
  constructor(private readonly socket: RelaySocket) {}
  write(bytes: Uint8Array): boolean {
    this.socket.write(bytes)
    return true
  }
  get buffered(): number {
    return this.socket.writableLength
  }
}

export interface TransportInit {
  host: string
  port: number
  socketPath?: string
  /** An already connected socket (in-process relays) instead of host/port. */
  socket?: RelaySocket
  role: Role
  connectTimeoutMs: number
}

export interface TransportEvents {
  onFrame(frame: Frame): void
  /** EVENT frames, decoded without a frame object (the hot path). */
  onEvent(topic: string, payload: Uint8Array): void
  onClose(error: HeraldError | undefined): void
}

/**
 * One connection to the relay: handshake, frame channel, write coalescing. The only place
 * the SDK touches sockets; socket errors are translated to HeraldError here.
 */
export class Transport {
  private readonly socket: RelaySocket
  private readonly channel: FrameChannel
  private readonly names = new NameReader()
  private readonly events: TransportEvents
  private readonly where: string
  private drainWaiters: Array<() => void> = []
  private closedWith: HeraldError | undefined
  private isClosed = false
  private handshake: { resolve: (w: WelcomeFrame) => void; reject: (e: HeraldError) => void } | undefined
  /** Resolves with the relay's WELCOME; rejects when the handshake fails (the socket is then closed). */
  readonly ready: Promise<WelcomeFrame>

  constructor(init: TransportInit, events: TransportEvents) {
    this.events = events
    const socket: RelaySocket = this.socket = init.socket ?? (init.socketPath !== undefined
      ? netConnect({ path: init.socketPath })
      : netConnect({ host: init.host, port: init.port, noDelay: true }))
    this.where = init.socket !== undefined ? 'in-process relay' : init.socketPath ?? `${init.host}:${init.port}`
    this.channel = new FrameChannel({
      sink: new SocketSink(socket),
      alloc: (n) => Buffer.allocUnsafe(n),
      onFrame: (type, buf, start, end) => this.onFrame(type, buf, start, end),
      onError: (code, message, cause) => {
        if (!(cause instanceof WireError)) throw cause
        // Tell the relay why before hanging up.
        this.send({ type: FrameType.error, code, message })
        this.channel.flush()
        this.closeWith(new HeraldError('PROTOCOL', `relay sent malformed data: ${message}`, { cause }))
      },
      onDrain: () => this.wakeDrain(),
    })
    this.ready = new Promise<WelcomeFrame>((resolve, reject) => { this.handshake = { resolve, reject } })
    const timer = setTimeout(
      () => this.closeWith(new HeraldError('UNAVAILABLE', `no answer from the relay at ${this.where} within ${init.connectTimeoutMs} ms`)),
      init.connectTimeoutMs,
    )
    void this.ready.then(() => clearTimeout(timer), () => clearTimeout(timer))
    socket.on('data', (chunk) => this.channel.receive(chunk))
    socket.on('drain', () => this.channel.drained())
    socket.on('error', (err) => {
      const hint = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? ' (is a relay running? start one with `herald relay --dev`)' : ''
      this.closeWith(this.handshake !== undefined
        ? new HeraldError('UNAVAILABLE', `cannot reach the relay at ${this.where}: ${err.code ?? err.message}${hint}`, { cause: err })
        : new ClosedError(`relay connection failed: ${err.code ?? err.message}`, { cause: err }))
    })
    socket.on('close', () => this.closeWith(this.handshake !== undefined
      ? new ClosedError(`the relay at ${this.where} closed the connection during the handshake`)
      : new ClosedError('the relay closed the connection')))
    const hello = (): void => this.send({ type: FrameType.hello, version: PROTOCOL_VERSION, role: init.role })
    if (init.socket !== undefined) hello()
    else socket.once('connect', hello)
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    if (this.handshake !== undefined) {
      this.onHandshake(parseFrameAt(type, buf, start, end))
    } else if (type === FrameType.event) {
      const topic = this.names.read(buf, start, end)
      const at = this.names.payloadStart
      this.events.onEvent(topic, new Uint8Array(buf.buffer, buf.byteOffset + at, end - at))
    } else {
      this.events.onFrame(parseFrameAt(type, buf, start, end))
    }
  }

  private onHandshake(frame: Frame): void {
    const h = this.handshake as NonNullable<typeof this.handshake>
    if (frame.type === FrameType.welcome) {
      this.handshake = undefined
      h.resolve(frame)
    } else if (frame.type === FrameType.error || frame.type === FrameType.close) {
      this.closeWith(errorFromWire(frame.code, `relay refused the connection: ${'message' in frame ? frame.message : frame.reason}`))
    } else {
      this.closeWith(new HeraldError('PROTOCOL', `unexpected frame 0x${frame.type.toString(16)} during the handshake`))
    }
  }

  send(frame: Frame): void {
    this.channel.send(frame)
  }

  /** PUBLISH/BROADCAST without a frame object (`name` from nameBytes()). */
  sendNamed(type: number, name: Uint8Array, payload: Uint8Array): void {
    this.channel.sendNamed(type, name, payload)
  }

  /** REPLY/TUNNEL_DATA without a frame object. */
  sendIdPayload(type: number, id: number, payload: Uint8Array): void {
    this.channel.sendIdPayload(type, id, payload)
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** True when enough is queued that producers should wait for `drained()`. */
  get congested(): boolean {
    return this.channel.pending > SOCKET_HIGH_WATER
  }

  drained(): Promise<void> {
    if (this.isClosed) return Promise.reject(this.closedWith ?? new ClosedError())
    return new Promise<void>((resolve) => this.drainWaiters.push(resolve))
  }

  private wakeDrain(): void {
    const waiters = this.drainWaiters
    this.drainWaiters = []
    for (const w of waiters) w()
  }

  /** Says goodbye (CLOSE frame) and ends the socket once queued frames are written. */
  end(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    this.send({ type: FrameType.close, code: ErrorCode.ok, reason: 'client closed' })
    this.channel.flush()
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.end()
      this.closeWith(undefined)
      setTimeout(() => { this.socket.destroy(); resolve() }, 2000).unref()
    })
  }

  private closeWith(error: HeraldError | undefined): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closedWith = error
    this.channel.close()
    if (error !== undefined) this.socket.destroy()
    this.wakeDrain()
    const h = this.handshake
    this.handshake = undefined
    if (h !== undefined) h.reject(error ?? new ClosedError('closed during the handshake'))
    else this.events.onClose(error)
  }
}
