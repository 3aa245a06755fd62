/**
 * One direction of a proxied connection: reads the sender's socket, cuts what it reads into
 * segments, asks the LinkModel when each is delivered, and writes them to the receiver's
 * socket at that time, in order. What it holds (queued segments, plus what sits in either
 * socket's buffer) is bounded: past the bound it stops reading the sender, so the sender's
 * TCP window closes and the sender blocks, as it would behind a slow path.
 *
 * Beyond the model it can be partitioned (hold everything, deliver nothing, until healed; the
 * held bytes are then sent again through the model), stalled (deliver nothing until a time,
 * then everything due at once, like a frozen host's socket buffer) and made half-open (read
 * and discard everything, FIN included).
 */
import type { Socket } from 'node:net'
import { MAX_WRITE_BYTES } from './constants.js'
import type { LinkModel } from './link-model.js'
import { SegmentQueue } from './segment-queue.js'

export interface PipeStats {
  /** Bytes read from the sender. */
  bytesIn: number
  /** Bytes written to the receiver. */
  bytesOut: number
  /** Segments the link model scheduled. */
  segments: number
  /** Segments lost at least once, so held back by a retransmission timeout. */
  heldBack: number
  /** Retransmissions in all (a segment lost twice counts two). */
  retransmits: number
  /** Bytes accepted and never delivered (half-open, or held when the connection was reset). */
  discardedBytes: number
  /** Bytes held now: queued, and in the two sockets' buffers. */
  heldBytes: number
  /** The most ever held. */
  peakHeldBytes: number
  /** Times reading the sender was paused because the bound was reached. */
  pauses: number
}

export type PipeState = 'flowing' | 'paused' | 'partitioned' | 'stalled' | 'half-open' | 'ended'

export interface PipeInit {
  source: Socket
  sink: Socket
  model: LinkModel
  clock: () => number
  /** Called once the sender's FIN has been passed on (after every byte before it). */
  onFinished: () => void
}

export function emptyPipeStats(): PipeStats {
  return { bytesIn: 0, bytesOut: 0, segments: 0, heldBack: 0, retransmits: 0, discardedBytes: 0, heldBytes: 0, peakHeldBytes: 0, pauses: 0 }
}

export class Pipe {
  private readonly source: Socket
  private readonly sink: Socket
  private readonly model: LinkModel
  private readonly clock: () => number
  private readonly onFinished: () => void
  private readonly queue = new SegmentQueue()
  private readonly counters = emptyPipeStats()
  private timer: NodeJS.Timeout | undefined
  private immediate: NodeJS.Immediate | undefined
  private timerAt = Infinity
  private waitingDrain = false
  private paused = false
  private ended = false
  private finished = false
  private disposed = false
  private partitioned = false
  private discarding = false
  private stalledUntil = -Infinity

  constructor(init: PipeInit) {
    this.source = init.source
    this.sink = init.sink
    this.model = init.model
    this.clock = init.clock
    this.onFinished = init.onFinished
    this.source.on('data', (chunk: Buffer) => this.onData(chunk))
    this.source.on('end', () => {
      this.ended = true
      this.pump()
    })
    this.sink.on('drain', () => {
      this.waitingDrain = false
      this.pump()
    })
  }

  get stats(): PipeStats {
    return { ...this.counters, heldBytes: this.held() }
  }

  /** True once the sender's FIN was read. */
  get sourceEnded(): boolean {
    return this.ended
  }

  get state(): PipeState {
    if (this.finished || this.disposed) return 'ended'
    if (this.discarding) return 'half-open'
    if (this.partitioned) return 'partitioned'
    if (this.clock() < this.stalledUntil) return 'stalled'
    return this.paused ? 'paused' : 'flowing'
  }

  /** New settings apply to segments read from now on; a changed bound applies at once. */
  reconfigured(): void {
    this.maybeResume()
  }

  partition(): void {
    this.partitioned = true
    this.cancelTimer()
  }

  /** Ends a partition (what it held goes through the model again, from now) and a stall. */
  heal(): void {
    this.stalledUntil = -Infinity
    if (this.partitioned) {
      this.partitioned = false
      const now = this.clock()
      this.model.restart(now)
      for (const seg of this.queue) seg.at = this.model.schedule(seg.data.length, now).at
    }
    this.cancelTimer()
    this.pump()
  }

  stall(ms: number): void {
    this.stalledUntil = Math.max(this.stalledUntil, this.clock() + ms)
    this.cancelTimer()
    this.pump()
  }

  /** From now on everything read is dropped, and nothing (not even a FIN) is passed on. */
  halfOpen(): void {
    if (this.discarding) return
    this.discarding = true
    this.cancelTimer()
    this.counters.discardedBytes += this.queue.clear()
    this.maybeResume()
  }

  /** The connection is gone: drop what is held (counted as discarded) and stop. */
  dispose(): void {
    if (this.disposed) return
    this.disposed = true
    this.cancelTimer()
    this.counters.discardedBytes += this.queue.clear()
  }

  private held(): number {
    if (this.disposed) return 0
    return this.queue.bytes + this.sink.writableLength + this.source.readableLength
  }

  private bound(): number {
    return this.model.current.bufferBytes
  }

  private onData(chunk: Buffer): void {
    this.counters.bytesIn += chunk.length
    if (this.discarding || this.disposed) {
      this.counters.discardedBytes += chunk.length
      return
    }
    const now = this.clock()
    for (let off = 0; off < chunk.length;) {
      const size = this.model.nextSize(chunk.length - off)
      const { at, retransmits } = this.model.schedule(size, now)
      this.queue.push({ data: chunk.subarray(off, off + size), at })
      off += size
      this.counters.segments++
      if (retransmits > 0) {
        this.counters.heldBack++
        this.counters.retransmits += retransmits
      }
    }
    const held = this.held()
    if (held > this.counters.peakHeldBytes) this.counters.peakHeldBytes = held
    if (!this.paused && held >= this.bound()) {
      this.paused = true
      this.counters.pauses++
      this.source.pause()
    }
    this.pump()
  }

  private maybeResume(): void {
    // Not held(): a paused socket may keep a chunk in its readable buffer until it flows again.
    if (this.paused && (this.discarding || this.queue.bytes + this.sink.writableLength <= this.bound() / 2)) {
      this.paused = false
      this.source.resume()
    }
  }

  private get armed(): boolean {
    return this.timer !== undefined || this.immediate !== undefined
  }

  private cancelTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    if (this.immediate !== undefined) clearImmediate(this.immediate)
    this.timer = undefined
    this.immediate = undefined
    this.timerAt = Infinity
  }

  private readonly onTimer = (): void => {
    this.timer = undefined
    this.immediate = undefined
    this.timerAt = Infinity
    this.pump()
  }

  private arm(at: number, now: number): void {
    if (this.armed) {
      if (this.timerAt <= at) return
      this.cancelTimer()
    }
    this.timerAt = at
    // Slices due now still go one per turn of the event loop, so they leave as separate writes.
    if (at <= now) this.immediate = setImmediate(this.onTimer)
    else this.timer = setTimeout(this.onTimer, Math.ceil(at - now))
  }

  /** Writes whatever is due, then waits (timer or 'drain') for the rest. */
  private pump(): void {
    const slicing = this.model.current.sliceBytes > 0
    while (!this.finished && !this.disposed && !this.waitingDrain && !this.partitioned && !this.discarding) {
      const now = this.clock()
      if (now < this.stalledUntil) return this.arm(this.stalledUntil, now)
      const head = this.queue.peek()
      if (head === undefined) {
        if (this.ended) this.finish()
        return this.maybeResume()
      }
      if (head.at > now) return this.arm(head.at, now)
      if (slicing && this.armed) return // a slice is already waiting for its turn
      let out: Uint8Array
      if (slicing) {
        out = this.queue.shift()!.data
      } else {
        const parts: Uint8Array[] = []
        let n = 0
        for (let s = this.queue.peek(); s !== undefined && s.at <= now && n < MAX_WRITE_BYTES; s = this.queue.peek()) {
          parts.push(this.queue.shift()!.data)
          n += s.data.length
        }
        out = parts.length === 1 ? parts[0]! : Buffer.concat(parts, n)
      }
      this.counters.bytesOut += out.length
      if (!this.sink.write(out)) this.waitingDrain = true
      this.maybeResume()
      if (slicing) {
        const next = this.queue.peek()
        if (next !== undefined && !this.waitingDrain) return this.arm(Math.max(next.at, now), now)
      }
    }
  }

  private finish(): void {
    this.finished = true
    this.sink.end()
    this.onFinished()
  }
}
