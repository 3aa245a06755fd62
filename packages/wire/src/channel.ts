import { FrameBatcher } from './batcher.js'
import { encodeFrame } from './encode.js'
import { FrameDecoder } from './decode.js'
import { Deque } from './deque.js'
import { ErrorCode, WireError } from './errors.js'
import type { Frame } from './frames.js'

/**
 * Where a channel's outgoing bytes go: a socket, a libp2p stream, an in-memory pipe. Make it a
 * class instance (one shape per kind of channel), not an object literal with a getter:
 * `buffered` is read on every droppable send, and literal getters give each channel a shape of
 * its own, which makes that read megamorphic on the fan-out hot path.
 */
export interface FrameSink {
  /**
   * Takes one batch of whole frames; the sink may keep the buffer. False: taken, but the
   * transport is backed up, so the channel holds later batches until `drained()`.
   */
  write(bytes: Uint8Array): boolean
  /** Bytes the transport has taken and not sent yet. */
  readonly buffered: number
}

export interface FrameChannelInit {
  sink: FrameSink
  /** One frame: `buf[start, end)`, header included, valid during the call only. */
  onFrame(type: number, buf: Uint8Array, start: number, end: number): void
  /**
   * Reading failed: malformed input (the WireError's code and message), or onFrame threw
   * something else (code `protocol`, "internal error: ..."). Called once; nothing more is
   * read. The write side stays open, so a client-protocol owner can still send ERROR.
   */
  onError(code: ErrorCode, message: string, cause: unknown): void
  /** The transport drained and the batches held meanwhile went out. */
  onDrain?(): void
  /** Frames longer than this are a protocol error (see FrameDecoder). */
  maxFrameBytes?: number
  /** See FrameBatcher. */
  batchBytes?: number
  alloc?: (size: number) => Uint8Array
  defer?: (task: () => void) => void
  /** Hold every batch until the first `drained()` (a transport that is not open yet). */
  startHeld?: boolean
}

/**
 * One framed connection, without the I/O: the decoder cuts received bytes into frames for
 * `onFrame`; outgoing frames are coalesced by a FrameBatcher and handed to the sink; batches
 * the sink cannot take yet are held, in order, until it drains; and the error policy is one
 * place (stop reading, report once). The client session, the SDK transport, the peer link and
 * the tunnel stream are each this channel plus their own protocol.
 */
export class FrameChannel {
  private readonly init: FrameChannelInit
  private readonly decoder: FrameDecoder
  private readonly batcher: FrameBatcher
  private readonly held = new Deque<Uint8Array>({ sizeOf: (b) => b.length })
  /** Urgent frames that came while batches were held: they leave first (sendUrgent). */
  private readonly urgent = new Deque<Uint8Array>({ sizeOf: (b) => b.length })
  private waiting: boolean
  private readFailed = false
  private isClosed = false
  bytesIn = 0
  bytesOut = 0
  framesIn = 0

  constructor(init: FrameChannelInit) {
    this.init = init
    this.decoder = new FrameDecoder(init.maxFrameBytes !== undefined ? { maxFrameBytes: init.maxFrameBytes } : {})
    this.batcher = new FrameBatcher({
      sink: (bytes) => this.write(bytes),
      ...(init.batchBytes !== undefined ? { batchBytes: init.batchBytes } : {}),
      ...(init.alloc !== undefined ? { alloc: init.alloc } : {}),
      ...(init.defer !== undefined ? { defer: init.defer } : {}),
    })
    this.waiting = init.startHeld === true
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** Bytes received but not yet a whole frame (a stalled half frame shows here). */
  get partialBytes(): number {
    return this.decoder.buffered
  }

  /** Bytes accepted for sending and not yet sent: batched, held, or in the transport. */
  get pending(): number {
    return this.batcher.pending + this.held.bytes + this.urgent.bytes + this.init.sink.buffered
  }

  /** Nothing batched or held (the transport may still be sending what it took). */
  get idle(): boolean {
    return this.batcher.pending === 0 && this.held.length === 0 && this.urgent.length === 0
  }

  /** Feeds received bytes; returns how many frames they completed. */
  receive(chunk: Uint8Array): number {
    if (this.isClosed || this.readFailed) return 0
    this.bytesIn += chunk.length
    const d = this.decoder
    d.push(chunk)
    let n = 0
    try {
      for (;;) {
        const type = d.advance()
        if (type < 0) break
        n++
        this.init.onFrame(type, d.buf, d.start, d.end)
        if (this.isClosed || this.readFailed) break
      }
    } catch (err) {
      this.readFailed = true
      if (err instanceof WireError) this.init.onError(err.code, err.message, err)
      else this.init.onError(ErrorCode.protocol, `internal error: ${err instanceof Error ? err.message : String(err)}`, err)
    } finally {
      this.framesIn += n
    }
    return n
  }

  /** A control frame. */
  send(frame: Frame): void {
    if (!this.isClosed) this.batcher.push(frame)
  }

  /**
   * A frame that must not wait behind bulk traffic (a request, a reply, a control message on a
   * link that also carries a stream of events): while the transport is backed up and batches
   * are held, it goes ahead of them. Its order among urgent frames is kept; relative to bulk
   * frames it may overtake (they are independent). Otherwise it is batched like any frame.
   */
  sendUrgent(frame: Frame): void {
    if (this.isClosed) return
    if (!this.waiting) {
      this.batcher.push(frame)
      return
    }
    const bytes = encodeFrame(frame)
    this.bytesOut += bytes.length
    this.urgent.push(bytes)
  }

  /** PUBLISH/EVENT/BROADCAST written straight into the batch (`name` from nameBytes()). */
  sendNamed(type: number, name: Uint8Array, payload: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushNamed(type, name, payload)
  }

  /** REPLY/TUNNEL_DATA written straight into the batch. */
  sendIdPayload(type: number, id: number, payload: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushIdPayload(type, id, payload)
  }

  /** Bytes that are already whole frames, copied into the batch (fan-out of the same bytes). */
  sendRaw(bytes: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushRaw(bytes)
  }

  /**
   * sendRaw, unless more than `limit` bytes are pending already (or the channel is closed):
   * then nothing is sent and it returns false. The fan-out hot path (one check, one copy).
   */
  offerRaw(bytes: Uint8Array, limit: number): boolean {
    if (this.isClosed || this.batcher.pending + this.held.bytes + this.init.sink.buffered > limit) return false
    this.batcher.pushRaw(bytes)
    return true
  }

  /** Whole frames the caller gives away (no copy); they leave as one write, in order. */
  sendOwned(bytes: Uint8Array): void {
    if (!this.isClosed) this.batcher.pushOwned(bytes)
  }

  /** Hands the current batch to the sink now. */
  flush(): void {
    if (!this.isClosed) this.batcher.flush()
  }

  /** The transport drained (or opened): send what was held, then tell the owner. */
  drained(): void {
    if (this.isClosed) return
    this.waiting = false
    for (const queue of [this.urgent, this.held]) {
      while (!this.waiting && queue.length > 0) {
        const bytes = queue.shift() as Uint8Array
        if (!this.init.sink.write(bytes)) this.waiting = true
        if (this.isClosed) return
      }
    }
    this.init.onDrain?.()
  }

  /** Stops both directions; what is batched or held is dropped (flush() first to keep it). */
  close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.batcher.discard()
    this.held.clear()
    this.urgent.clear()
  }

  private write(bytes: Uint8Array): void {
    if (this.isClosed) return
    this.bytesOut += bytes.length
    if (this.waiting) {
      this.held.push(bytes)
      return
    }
    if (!this.init.sink.write(bytes)) this.waiting = true
  }
}
