import { Deque } from '@herald/wire'
import type { ByteStream, ByteStreamEvents, StreamKind } from './overlay.js'

/** One direction of a pipe: bytes written by one end, not yet read by the other. */
class Lane {
  readonly chunks = new Deque<Uint8Array>({ sizeOf: (b) => b.length })
  /** The writer closed its side: once the chunks are read, the reader hears remoteClose. */
  ended = false
  endReported = false
  /** The writer saw send() return false and waits for drain. */
  writerWaits = false
  /** Delivery stopped from outside (a stalled peer). */
  paused = false
}

/**
 * One end of an in-memory stream pair (see memoryStreamPair). Delivery is asynchronous
 * (setImmediate), in order, and back-pressured: send() returns false once more than
 * `highWaterBytes` wait to be read, and `drain` follows when the reader caught up.
 */
export class MemoryStream implements ByteStream {
  private events: ByteStreamEvents | undefined
  private scheduled = false
  private closedWith: { err: Error | undefined } | undefined
  private other: MemoryStream | undefined

  constructor(
    readonly kind: StreamKind,
    readonly remotePeer: string,
    private readonly out: Lane,
    private readonly inbound: Lane,
    private readonly highWaterBytes: number,
  ) {}

  /** Internal: the two ends of a pair know each other. */
  static pair(kind: StreamKind, a: string, b: string, highWaterBytes: number): [MemoryStream, MemoryStream] {
    const ab = new Lane()
    const ba = new Lane()
    const atA = new MemoryStream(kind, b, ab, ba, highWaterBytes) // a's end: talks to b
    const atB = new MemoryStream(kind, a, ba, ab, highWaterBytes)
    atA.other = atB
    atB.other = atA
    return [atA, atB]
  }

  get closed(): boolean {
    return this.closedWith !== undefined
  }

  get writeBufferLength(): number {
    return this.out.chunks.bytes
  }

  send(bytes: Uint8Array): boolean {
    if (this.closedWith !== undefined || this.out.ended) throw new Error(`cannot write to a ${this.closedWith !== undefined ? 'closed' : 'closing'} stream`)
    if (bytes.length > 0) this.out.chunks.push(bytes)
    this.other?.schedule()
    const ok = this.out.chunks.bytes <= this.highWaterBytes
    if (!ok) this.out.writerWaits = true
    return ok
  }

  close(): Promise<void> {
    if (this.closedWith === undefined && !this.out.ended) {
      this.out.ended = true
      this.other?.schedule()
    }
    return Promise.resolve()
  }

  abort(err: Error): void {
    this.reset(err)
    this.other?.resetLater(new Error(`the stream was reset by the remote peer: ${err.message}`))
  }

  attach(events: ByteStreamEvents): void {
    this.events = events
    this.schedule()
  }

  /** Stops (or resumes) reading what the other end sends, as a stalled peer would. */
  setPaused(paused: boolean): void {
    this.inbound.paused = paused
    if (!paused) this.schedule()
  }

  /** The connection under the stream died: both ends close with `err`. */
  drop(err: Error): void {
    this.resetLater(err)
    this.other?.resetLater(err)
  }

  private schedule(): void {
    if (this.scheduled || this.closedWith !== undefined) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.deliver()
    })
  }

  private deliver(): void {
    const lane = this.inbound
    const ev = this.events
    if (ev === undefined || this.closedWith !== undefined || lane.paused) return
    while (lane.chunks.length > 0 && this.closedWith === undefined && !lane.paused) ev.message(lane.chunks.shift() as Uint8Array)
    const writer = this.other
    if (lane.writerWaits && lane.chunks.bytes <= this.highWaterBytes && writer !== undefined && writer.closedWith === undefined) {
      lane.writerWaits = false
      writer.events?.drain()
    }
    if (lane.ended && lane.chunks.length === 0 && !lane.endReported && this.closedWith === undefined) {
      lane.endReported = true
      ev.remoteClose()
      // Both directions ended and read: the stream is closed on both ends.
      if (this.out.ended && this.out.endReported) {
        this.reset(undefined)
        writer?.reset(undefined)
      }
    }
  }

  private resetLater(err: Error): void {
    setImmediate(() => this.reset(err))
  }

  private reset(err: Error | undefined): void {
    if (this.closedWith !== undefined) return
    this.closedWith = { err }
    this.inbound.chunks.clear()
    this.out.chunks.clear()
    this.events?.close(err)
  }
}
