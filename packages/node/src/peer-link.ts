import type { Stream } from '@libp2p/interface'
import { FrameBatcher, FrameDecoder, WireError, type Frame } from '@herald/wire'
import { LINK_HIGH_WATER_BYTES, MAX_LINK_BACKLOG_BYTES } from './constants.js'

export interface PeerLinkEvents {
  /** One frame: `buf[start, end)`, header included, valid during the call. */
  onFrame(link: PeerLink, type: number, buf: Uint8Array, start: number, end: number): void
  onClose(link: PeerLink, why: string): void
}

function flatten(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

/**
 * One long-lived stream to another relay. Frames are coalesced into large sends (never one
 * libp2p send per small message); what the stream has not taken yet is bounded: droppable
 * traffic (events, broadcasts) is dropped past MAX_LINK_BACKLOG_BYTES, control traffic is not.
 */
export class PeerLink {
  readonly remote: string
  private readonly stream: Stream
  private readonly decoder: FrameDecoder
  private readonly batcher: FrameBatcher
  private events: PeerLinkEvents | undefined
  private isClosed = false
  private waitingDrain = false
  private backlog: Uint8Array[] = []
  private backlogBytes = 0
  dropped = 0
  bytesOut = 0
  bytesIn = 0

  constructor(init: { remote: string; stream: Stream; maxFrameBytes: number }) {
    this.remote = init.remote
    this.stream = init.stream
    this.decoder = new FrameDecoder({ maxFrameBytes: init.maxFrameBytes })
    this.batcher = new FrameBatcher({ sink: (b) => this.write(b), alloc: (n) => Buffer.allocUnsafe(n) })
    this.stream.addEventListener('message', (e) => this.receive(flatten(e.data)))
    this.stream.addEventListener('close', () => this.finish('stream closed'))
    // A link is two-way: once the peer closed its side (it dropped this link, e.g. as a
    // duplicate), nothing will ever arrive here, and what we send is ignored. 'close' alone
    // fires only when both sides closed, so without this the link would stay up, dead.
    this.stream.addEventListener('remoteCloseWrite', () => this.close('the peer closed the link'))
    this.stream.addEventListener('drain', () => this.onDrain())
  }

  /** Where frames go: set right after construction (frames that arrive before are not kept). */
  setEvents(events: PeerLinkEvents): void {
    this.events = events
  }

  get closed(): boolean {
    return this.isClosed
  }

  /** Bytes accepted but not yet taken by the stream. */
  get pending(): number {
    return this.backlogBytes + this.batcher.pending + this.stream.writeBufferLength
  }

  send(frame: Frame): void {
    if (!this.isClosed) this.batcher.push(frame)
  }

  /**
   * More is queued than the link should hold: local publishers are paused until it drains
   * (keeping the link's latency low for requests, heartbeats and libp2p's pings).
   */
  get congested(): boolean {
    return this.pending > LINK_HIGH_WATER_BYTES
  }

  /** Called once the link is no longer congested. */
  onWritable: (() => void) | undefined

  /** Pre-encoded frame bytes (fan-out of one event to many relays). Returns false when dropped. */
  sendDroppable(frame: Uint8Array): boolean {
    if (this.isClosed) return false
    if (this.pending > MAX_LINK_BACKLOG_BYTES) {
      this.dropped++
      return false
    }
    this.batcher.pushRaw(frame)
    return true
  }

  private write(bytes: Uint8Array): void {
    if (this.isClosed) return
    this.bytesOut += bytes.length
    if (this.waitingDrain) {
      this.backlog.push(bytes)
      this.backlogBytes += bytes.length
      return
    }
    try {
      if (!this.stream.send(bytes)) this.waitingDrain = true
    } catch (err) {
      this.close(`send failed: ${(err as Error).message}`)
    }
  }

  private onDrain(): void {
    this.waitingDrain = false
    while (this.backlog.length > 0 && !this.waitingDrain && !this.isClosed) {
      const b = this.backlog.shift()!
      this.backlogBytes -= b.length
      try {
        if (!this.stream.send(b)) this.waitingDrain = true
      } catch (err) {
        this.close(`send failed: ${(err as Error).message}`)
      }
    }
    if (!this.congested) this.onWritable?.()
  }

  private receive(chunk: Uint8Array): void {
    if (this.isClosed) return
    this.bytesIn += chunk.length
    const d = this.decoder
    d.push(chunk)
    try {
      for (;;) {
        const type = d.advance()
        if (type < 0) return
        this.events?.onFrame(this, type, d.buf, d.start, d.end)
        if (this.isClosed) return
      }
    } catch (err) {
      if (err instanceof WireError) this.close(`peer sent malformed data: ${err.message}`)
      else this.close(`internal error: ${(err as Error).message}`)
    }
  }

  /** Closes the link (flushing what is queued) and reports it once. */
  close(why: string): void {
    if (this.isClosed) return
    this.batcher.flush()
    this.finish(why)
    this.stream.close().catch(() => this.stream.abort(new Error(why)))
  }

  private finish(why: string): void {
    if (this.isClosed) return
    this.isClosed = true
    this.batcher.discard()
    this.backlog = []
    this.backlogBytes = 0
    this.events?.onClose(this, why)
    this.onWritable?.()
  }
}
