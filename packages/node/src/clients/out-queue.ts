/** Encoded frames are queued in blocks of this size (a large frame gets a block of its own). */
const BLOCK_BYTES = 64 * 1024

/**
 * A bounded queue of encoded frames for one receiver (a subscription, or a member's
 * broadcasts) used while its socket is backed up. Past `limit` bytes, frames are dropped and
 * counted: a slow receiver loses its own messages and never stalls anyone else. Frames are
 * copied into 64 KiB blocks, so memory is what the limit says (no per-frame object) and the
 * queue drains a block per write.
 */
export class OutQueue {
  readonly limit: number
  private blocks: Uint8Array[] = []
  /** Bytes used in each block. */
  private used: number[] = []
  bytes = 0
  dropped = 0
  /** Drops not yet reported to the receiver. */
  unreported = 0

  constructor(limit: number) {
    this.limit = limit
  }

  get empty(): boolean {
    return this.bytes === 0
  }

  /** Queues a copy of `frame`; false (and counted) when it does not fit. */
  offer(frame: Uint8Array): boolean {
    if (this.bytes + frame.length > this.limit) {
      this.dropped++
      this.unreported++
      return false
    }
    const last = this.blocks.length - 1
    let tail = this.blocks[last]
    let at = this.used[last] ?? 0
    if (tail === undefined || tail.length - at < frame.length) {
      tail = new Uint8Array(Math.max(BLOCK_BYTES, frame.length))
      this.blocks.push(tail)
      this.used.push(0)
      at = 0
    }
    tail.set(frame, at)
    this.used[this.used.length - 1] = at + frame.length
    this.bytes += frame.length
    return true
  }

  /** Counts a frame dropped without offering it (too large for the receiver). */
  drop(): void {
    this.dropped++
    this.unreported++
  }

  /** The oldest whole frames, up to one block, now owned by the caller; undefined when empty. */
  take(): Uint8Array | undefined {
    const first = this.blocks.shift()
    const used = this.used.shift()
    if (first === undefined || used === undefined || used === 0) return undefined
    this.bytes -= used
    return used === first.length ? first : first.subarray(0, used)
  }

  clear(): void {
    this.blocks = []
    this.used = []
    this.bytes = 0
  }
}
