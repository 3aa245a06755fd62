import { ErrorCode, FrameChannel, FrameType, STREAM_TUNNEL_ID, WireError, parseFrameAt, type Frame } from '@herald/wire'
import type { Clock, Timer } from '../clock.js'
import type { ByteStream } from '../overlay/overlay.js'
import type { Logger } from '../log.js'
import type { TunnelSink } from './sinks.js'
import { StreamSink } from './stream-sink.js'

export interface TunnelStreamInit {
  /** The stream, or (an outbound tunnel) the stream being opened. */
  stream: ByteStream | Promise<ByteStream>
  /** Gives up opening the stream (the tunnel ended first). */
  cancelOpen?: () => void
  sink: TunnelSink
  maxFrameBytes: number
  /** A partial frame whose bytes stop this long is a stall (see watchStall): a peer cannot hoard memory in half frames. */
  stallMs: number
  clock: Clock
  log: Logger
}

/** Stall checks (stallMs apart) with no new byte after which a partial frame closes its tunnel stream. */
export const STALL_CHECKS = 6

/**
 * One tunnel between two relays, on its own stream (so a bulk tunnel never delays the peer
 * link's requests and events). It speaks the client protocol's tunnel frames with tunnel id
 * STREAM_TUNNEL_ID, and to the router it is one more endpoint: on the opening relay it stands
 * where a member would; on the serving relay it stands where a client would.
 */
export class TunnelStream {
  readonly kind = 'tunnel-stream' as const
  private readonly init: TunnelStreamInit
  private readonly sink: TunnelSink
  private readonly channel: FrameChannel
  private stream: ByteStream | undefined
  private isClosed = false
  private closeAfterFlush = false
  private stallTimer: Timer | undefined
  /** Stall checks in a row that found no new byte. */
  private quietChecks = 0

  constructor(init: TunnelStreamInit) {
    this.init = init
    this.sink = init.sink
    this.channel = new FrameChannel({
      sink: new StreamSink(() => this.stream, (err) => this.finish(`send failed: ${err.message}`)),
      maxFrameBytes: init.maxFrameBytes,
      alloc: (n) => Buffer.allocUnsafe(n),
      startHeld: true,
      onFrame: (type, buf, start, end) => this.onFrame(type, buf, start, end),
      onError: (_code, message, cause) => {
        this.stream?.abort(cause instanceof Error ? cause : new WireError(ErrorCode.protocol, message))
        this.finish(`the other relay sent malformed data: ${message}`)
      },
      onDrain: () => this.closeIfFlushed(),
    })
    if (init.stream instanceof Promise) {
      init.stream.then((s) => this.bind(s), (err: unknown) => this.failOpen(err))
    } else {
      this.bind(init.stream)
    }
  }

  /** A control frame toward the other relay (TUNNEL_CLOSE ends the stream once it is sent). */
  send(frame: Frame): void {
    if (this.isClosed) return
    if (frame.type === FrameType.tunnelClose && this.stream === undefined && this.init.cancelOpen !== undefined) {
      // Ended before the stream opened (the opener's deadline passed, or it went away): the
      // other relay has heard nothing of it, so there is nothing to tell; stop opening.
      this.init.cancelOpen()
      this.finish('the tunnel ended before its stream opened')
      return
    }
    this.channel.send(frame)
    if (frame.type === FrameType.tunnelClose) {
      this.channel.flush()
      this.closeAfterFlush = true
      this.closeIfFlushed()
    }
  }

  private bind(stream: ByteStream): void {
    if (this.isClosed) {
      stream.abort(new Error('tunnel already closed'))
      return
    }
    this.stream = stream
    stream.attach({
      message: (bytes) => {
        this.channel.receive(bytes)
        this.watchStall()
      },
      drain: () => this.channel.drained(),
      remoteClose: () => {},
      close: () => this.finish('the stream closed'),
    })
    this.channel.drained()
  }

  /** The stream could not be opened: the tunnel fails as if its member were lost. */
  private failOpen(err: unknown): void {
    if (this.isClosed) return
    this.sink.tunnelClose(this, STREAM_TUNNEL_ID, ErrorCode.memberLost, `cannot reach the relay serving the tunnel: ${(err as Error).message}`)
    this.finish('the stream could not be opened')
  }

  private closeIfFlushed(): void {
    const s = this.stream
    if (!this.closeAfterFlush || s === undefined || this.isClosed || !this.channel.idle) return
    this.isClosed = true
    this.channel.close()
    s.close().catch(() => s.abort(new Error('close failed')))
    this.sink.detach(this, 'tunnel closed')
  }

  private onFrame(type: number, buf: Uint8Array, start: number, end: number): void {
    const f = parseFrameAt(type, buf, start, end)
    switch (f.type) {
      case FrameType.tunnelOpen: this.sink.openTunnel(this, f); break
      case FrameType.tunnelAccept: this.sink.tunnelAccept(this, f.tunnel, f.allowance); break
      case FrameType.tunnelData: this.sink.tunnelData(this, f.tunnel, f.payload); break
      case FrameType.tunnelAllowance: this.sink.tunnelAllowance(this, f.tunnel, f.bytes); break
      case FrameType.tunnelClose:
        this.sink.tunnelClose(this, f.tunnel, f.code, f.reason)
        this.closedByPeer()
        break
      default: throw new WireError(ErrorCode.protocol, `frame 0x${f.type.toString(16)} on a tunnel stream`)
    }
  }

  /**
   * A half-received frame must keep arriving: a peer cannot hoard partial frames. Checked every
   * stallMs while a frame is partial; STALL_CHECKS checks in a row that find no new byte close
   * the stream. Generous on purpose: a segment lost several times in a row holds everything
   * behind it (10% loss with a 783 ms timeout held requests for 15–24 s in the pressure tier),
   * and a sender whose yamux window is spent waits for a window update that a stall in the
   * other direction holds just as long, while the rest of the connection flows. A relay that
   * goes silent is the failure detector's to judge; its streams close with its connection.
   * Progress is counted in bytes, not whole frames: a large frame on a slow path takes long.
   */
  private watchStall(): void {
    if (this.stallTimer !== undefined || this.isClosed || this.channel.partialBytes === 0) return
    const bytesAtStart = this.channel.bytesIn
    this.stallTimer = this.init.clock.setTimeout(() => {
      this.stallTimer = undefined
      if (this.isClosed) return
      if (this.channel.bytesIn !== bytesAtStart || this.channel.partialBytes === 0) {
        this.quietChecks = 0
      } else if (++this.quietChecks >= STALL_CHECKS) {
        const ms = this.init.stallMs * this.quietChecks
        const why = `a partial frame stalled for ${ms} ms`
        this.init.log.warn({ event: 'tunnel.stalled', peer: this.stream?.remotePeer, partialBytes: this.channel.partialBytes, ms },
          `closing a tunnel stream from ${this.stream?.remotePeer ?? 'a relay'}: ${why}`)
        this.stream?.abort(new Error(why))
        this.finish(why)
        return
      }
      this.watchStall()
    }, this.init.stallMs)
    this.stallTimer.unref?.()
  }

  /**
   * The other relay ended the tunnel (its TUNNEL_CLOSE came, and it closed its side of the
   * stream): close ours too. Without this the stream stays half-open on both relays forever,
   * and after 1,000 tunnels the connection's stream limit refuses every new one.
   */
  private closedByPeer(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.channel.close()
    const s = this.stream
    s?.close().catch(() => s.abort(new Error('close failed')))
    this.sink.detach(this, 'tunnel closed')
  }

  /** The stream ended without a TUNNEL_CLOSE: the tunnel is lost (`why` says how). */
  private finish(why: string): void {
    if (this.isClosed && this.stream === undefined) return
    const wasClosed = this.isClosed
    this.isClosed = true
    this.channel.close()
    if (this.stallTimer !== undefined) this.init.clock.clearTimeout(this.stallTimer)
    if (!wasClosed) this.sink.detach(this, why)
  }
}
