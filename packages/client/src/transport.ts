import { connect as netConnect, type Socket } from 'node:net'
import {
  ErrorCode, FrameBatcher, FrameDecoder, FrameType, NameReader, PROTOCOL_VERSION, Role, WireError, parseFrame,
  type Frame, type WelcomeFrame,
} from '@herald/wire'
import { ClosedError, HeraldError, errorFromWire } from './errors.js'
import { SOCKET_HIGH_WATER } from './constants.js'

export interface TransportInit {
  host: string
  port: number
  socketPath?: string
  role: Role
  connectTimeoutMs: number
}

export interface TransportEvents {
  onFrame(frame: Frame): void
  /** EVENT frames, decoded without a frame object (the hot path). */
  onEvent?(topic: string, payload: Uint8Array): void
  onClose(error: HeraldError | undefined): void
}

/**
 * One socket to the relay: handshake, frame decoding, and write coalescing. The only place
 * the SDK touches node:net; socket errors are translated to HeraldError here.
 */
export class Transport {
  private readonly socket: Socket
  private readonly decoder = new FrameDecoder()
  private readonly names = new NameReader()
  private readonly batcher: FrameBatcher
  private events: TransportEvents | undefined
  private drainWaiters: Array<() => void> = []
  private closedWith: HeraldError | undefined
  private isClosed = false
  welcome!: WelcomeFrame

  private constructor(socket: Socket) {
    this.socket = socket
    this.batcher = new FrameBatcher({
      sink: (bytes) => { if (!this.isClosed) socket.write(bytes) },
      alloc: (n) => Buffer.allocUnsafe(n),
    })
  }

  static open(init: TransportInit): Promise<Transport> {
    return new Promise<Transport>((resolve, reject) => {
      const socket = init.socketPath !== undefined
        ? netConnect({ path: init.socketPath })
        : netConnect({ host: init.host, port: init.port, noDelay: true })
      const t = new Transport(socket)
      const where = init.socketPath ?? `${init.host}:${init.port}`
      let settled = false
      const fail = (err: HeraldError): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        socket.destroy()
        reject(err)
      }
      const timer = setTimeout(
        () => fail(new HeraldError('UNAVAILABLE', `no answer from the relay at ${where} within ${init.connectTimeoutMs} ms`)),
        init.connectTimeoutMs,
      )
      socket.once('error', (err: NodeJS.ErrnoException) => {
        const hint = err.code === 'ECONNREFUSED' || err.code === 'ENOENT' ? ' (is a relay running? start one with `herald relay --dev`)' : ''
        fail(new HeraldError('UNAVAILABLE', `cannot reach the relay at ${where}: ${err.code ?? err.message}${hint}`, { cause: err }))
      })
      socket.once('close', () => fail(new ClosedError(`the relay at ${where} closed the connection during the handshake`)))
      socket.once('connect', () => {
        t.send({ type: FrameType.hello, version: PROTOCOL_VERSION, role: init.role })
      })
      t.events = {
        onFrame(frame) {
          if (settled) return
          if (frame.type === FrameType.welcome) {
            settled = true
            clearTimeout(timer)
            t.welcome = frame
            socket.removeAllListeners('error')
            socket.removeAllListeners('close')
            t.attach()
            resolve(t)
          } else if (frame.type === FrameType.error || frame.type === FrameType.close) {
            fail(errorFromWire(frame.code, `relay refused the connection: ${'message' in frame ? frame.message : frame.reason}`))
          } else {
            fail(new HeraldError('PROTOCOL', `unexpected frame 0x${frame.type.toString(16)} during the handshake`))
          }
        },
        onClose(error) {
          if (error !== undefined) fail(error) // malformed data instead of WELCOME
        },
      }
      socket.on('data', (chunk: Buffer) => t.receive(chunk))
    })
  }

  /** Switches from the handshake to the connection's own event handlers. */
  setEvents(events: TransportEvents): void {
    this.events = events
    if (this.isClosed) events.onClose(this.closedWith)
  }

  private attach(): void {
    this.socket.on('error', (err: NodeJS.ErrnoException) => {
      this.closeWith(new ClosedError(`relay connection failed: ${err.code ?? err.message}`, { cause: err }))
    })
    this.socket.on('close', () => this.closeWith(new ClosedError('the relay closed the connection')))
    this.socket.on('drain', () => this.wakeDrain())
  }

  private receive(chunk: Buffer): void {
    if (this.isClosed) return
    const d = this.decoder
    d.push(chunk)
    try {
      for (;;) {
        const type = d.advance()
        if (type < 0) break
        const onEvent = this.events?.onEvent
        if (type === FrameType.event && onEvent !== undefined) {
          const buf = d.buf
          const topic = this.names.read(buf, d.start, d.end)
          const at = this.names.payloadStart
          onEvent(topic, new Uint8Array(buf.buffer, buf.byteOffset + at, d.end - at))
        } else {
          this.events?.onFrame(parseFrame(type, d.buf.subarray(d.start + 5, d.end)))
        }
        if (this.isClosed) break
      }
    } catch (err) {
      if (err instanceof WireError) {
        // Tell the relay why before hanging up (docs/protocol.md, CLOSE and ERROR): flushed and
        // ended, not destroyed, so the ERROR frame is not discarded with the socket.
        this.send({ type: FrameType.error, code: err.code, message: err.message })
        this.batcher.flush()
        this.socket.end()
        setTimeout(() => this.socket.destroy(), 1000).unref()
        this.closeWith(new HeraldError('PROTOCOL', `relay sent malformed data: ${err.message}`, { cause: err }), false)
      } else {
        throw err
      }
    }
  }

  send(frame: Frame): void {
    if (!this.isClosed) this.batcher.push(frame)
  }

  /** PUBLISH/BROADCAST without a frame object (`name` from nameBytes()). */
  sendNamed(type: number, name: Uint8Array, payload: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushNamed(type, name, payload)
  }

  /** REPLY/TUNNEL_DATA without a frame object. */
  sendIdPayload(type: number, id: number, payload: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushIdPayload(type, id, payload)
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** True when enough is queued that producers should wait for `drained()`. */
  get congested(): boolean {
    return this.socket.writableLength + this.batcher.pending > SOCKET_HIGH_WATER
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
    this.batcher.push({ type: FrameType.close, code: ErrorCode.ok, reason: 'client closed' })
    this.batcher.flush()
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve())
      this.socket.end()
      this.closeWith(undefined)
      setTimeout(() => { this.socket.destroy(); resolve() }, 2000).unref()
    })
  }

  private closeWith(error: HeraldError | undefined, destroy = true): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closedWith = error
    this.batcher.discard()
    if (error !== undefined && destroy) this.socket.destroy()
    this.wakeDrain()
    this.events?.onClose(error)
  }
}
