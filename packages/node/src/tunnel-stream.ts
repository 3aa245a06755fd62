import type { Stream } from '@libp2p/interface'
import { ErrorCode, FrameBatcher, FrameDecoder, FrameType, WireError, parseFrame, type Frame } from '@herald/wire'
import type { Endpoint, Router } from './router.js'
import { STREAM_TUNNEL_ID } from './router.js'
import type { OutQueue } from './outqueue.js'
import { describe } from './overlay.js'
import { TUNNEL_STREAM_STALL_MS } from './constants.js'

let nextEndpointId = 1_000_000_000

/**
 * One tunnel between two relays, on its own libp2p stream (so a bulk tunnel never delays the
 * peer link's requests and events). It speaks the client protocol's tunnel frames, with
 * tunnel id 1, and to the router it is one more endpoint: on the opening relay it stands
 * where a member would; on the serving relay it stands where a client would.
 */
export class TunnelStreamEndpoint implements Endpoint {
  readonly id = nextEndpointId++
  private stream: Stream | undefined
  private readonly router: Router
  private readonly decoder: FrameDecoder
  private readonly batcher: FrameBatcher
  private pendingWrites: Uint8Array[] = []
  private waitingDrain = false
  private isClosed = false
  private closeAfterFlush = false

  constructor(init: { router: Router; maxFrameBytes: number; stream?: Stream }) {
    this.router = init.router
    this.decoder = new FrameDecoder({ maxFrameBytes: init.maxFrameBytes })
    this.batcher = new FrameBatcher({ sink: (b) => this.write(b), alloc: (n) => Buffer.allocUnsafe(n) })
    if (init.stream !== undefined) this.bind(init.stream)
  }

  /** The stream is open (outbound tunnels get it after the dial). */
  bind(stream: Stream): void {
    if (this.isClosed) {
      stream.abort(new Error('tunnel already closed'))
      return
    }
    this.stream = stream
    stream.addEventListener('message', (e) => this.receive(e.data instanceof Uint8Array ? e.data : e.data.subarray()))
    stream.addEventListener('close', () => this.finish())
    stream.addEventListener('drain', () => {
      this.waitingDrain = false
      this.flushPending()
    })
    this.flushPending()
  }

  /** The dial failed: the tunnel fails as if its member were lost. */
  failOpen(err: unknown): void {
    if (this.isClosed) return
    this.router.tunnelClose(this, STREAM_TUNNEL_ID, ErrorCode.memberLost, `cannot reach the relay serving the tunnel: ${describe(err)}`)
    this.finish()
  }

  send(frame: Frame): void {
    if (this.isClosed) return
    this.batcher.push(frame)
    if (frame.type === FrameType.tunnelClose) {
      this.batcher.flush()
      this.closeAfterFlush = true
      this.flushPending()
    }
  }

  sendDroppable(_queue: OutQueue, _frame: Uint8Array, _topic: string | undefined): boolean {
    return false
  }

  private write(bytes: Uint8Array): void {
    this.pendingWrites.push(bytes)
    this.flushPending()
  }

  private flushPending(): void {
    const s = this.stream
    if (s === undefined || this.isClosed) return
    while (this.pendingWrites.length > 0 && !this.waitingDrain) {
      const b = this.pendingWrites.shift()!
      try {
        if (!s.send(b)) this.waitingDrain = true
      } catch {
        this.finish()
        return
      }
    }
    if (this.closeAfterFlush && this.pendingWrites.length === 0) {
      this.isClosed = true
      s.close().catch(() => s.abort(new Error('close failed')))
      this.router.detach(this, 'tunnel closed')
    }
  }

  private frames = 0
  private stallTimer: ReturnType<typeof setTimeout> | undefined

  /** A partial frame must complete within TUNNEL_STREAM_STALL_MS: a peer cannot hoard memory in half frames. */
  private watchStall(): void {
    if (this.stallTimer !== undefined || this.isClosed || this.decoder.buffered === 0) return
    const framesAtStart = this.frames
    this.stallTimer = setTimeout(() => {
      this.stallTimer = undefined
      if (this.isClosed) return
      if (this.frames === framesAtStart && this.decoder.buffered > 0) {
        this.stream?.abort(new Error(`a partial frame stalled for ${TUNNEL_STREAM_STALL_MS} ms`))
        this.finish()
      } else {
        this.watchStall()
      }
    }, TUNNEL_STREAM_STALL_MS)
    this.stallTimer.unref()
  }

  private receive(chunk: Uint8Array): void {
    if (this.isClosed) return
    this.decoder.push(chunk)
    this.watchStall()
    try {
      for (;;) {
        const raw = this.decoder.next()
        if (raw === null) return
        this.frames++
        const f = parseFrame(raw.type, raw.body)
        switch (f.type) {
          case FrameType.tunnelOpen: this.router.openTunnel(this, f, true); break
          case FrameType.tunnelAccept: this.router.tunnelAccept(this, f.tunnel, f.allowance); break
          case FrameType.tunnelData: this.router.tunnelData(this, f.tunnel, f.payload); break
          case FrameType.tunnelAllowance: this.router.tunnelAllowance(this, f.tunnel, f.bytes); break
          case FrameType.tunnelClose:
            this.router.tunnelClose(this, f.tunnel, f.code, f.reason)
            this.closedByPeer()
            break
          default: throw new WireError(ErrorCode.protocol, `frame 0x${f.type.toString(16)} on a tunnel stream`)
        }
        if (this.isClosed) return
      }
    } catch (err) {
      this.stream?.abort(err instanceof Error ? err : new Error(String(err)))
      this.finish()
    }
  }

  /**
   * The other relay ended the tunnel (its TUNNEL_CLOSE came, and it closed its side of the
   * stream): close ours too. Without this the stream stays half-open on both relays forever,
   * and after 1,000 tunnels the connection's stream limit refuses every new one.
   */
  private closedByPeer(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.batcher.discard()
    this.pendingWrites = []
    const s = this.stream
    s?.close().catch(() => s.abort(new Error('close failed')))
    this.router.detach(this, 'tunnel closed')
  }

  private finish(): void {
    if (this.isClosed && this.stream === undefined) return
    const wasClosed = this.isClosed
    this.isClosed = true
    this.batcher.discard()
    this.pendingWrites = []
    if (!wasClosed) this.router.detach(this, 'the relay serving the tunnel was lost')
  }
}
