import { copyBytes } from '@herald/wire'
/**
 * A bounded queue of encoded frames for one receiver (a subscription, or a member's
 * broadcasts) used while its socket is backed up. Past `limit` bytes, frames are dropped and
 * counted: a slow receiver loses its own messages and never stalls anyone else.
 */
export class OutQueue {
  readonly limit: number
  private items: Uint8Array[] = []
  private head = 0
  bytes = 0
  dropped = 0
  /** Drops not yet reported to the receiver. */
  unreported = 0

  constructor(limit: number) {
    this.limit = limit
  }

  get length(): number {
    return this.items.length - this.head
  }

  /** Queues a copy of `frame`; false (and counted) when it does not fit. */
  offer(frame: Uint8Array): boolean {
    if (this.bytes + frame.length > this.limit) {
      this.dropped++
      this.unreported++
      return false
    }
    this.items.push(copyBytes(frame))
    this.bytes += frame.length
    return true
  }

  shift(): Uint8Array | undefined {
    if (this.head === this.items.length) return undefined
    const f = this.items[this.head] as Uint8Array
    this.items[this.head++] = undefined as unknown as Uint8Array
    if (this.head === this.items.length) {
      this.items = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    this.bytes -= f.length
    return f
  }

  clear(): void {
    this.items = []
    this.head = 0
    this.bytes = 0
  }
}
