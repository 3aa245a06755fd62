/**
 * The segments a direction holds, in stream order, with their delivery times and a running
 * byte count (what back-pressure is decided on). A head index instead of Array.shift(), so
 * taking from the front stays O(1) with tens of thousands of small segments queued.
 */
export interface Segment {
  data: Uint8Array
  at: number
}

export class SegmentQueue {
  private items: Segment[] = []
  private head = 0
  private total = 0

  get bytes(): number {
    return this.total
  }

  get length(): number {
    return this.items.length - this.head
  }

  push(segment: Segment): void {
    this.items.push(segment)
    this.total += segment.data.length
  }

  peek(): Segment | undefined {
    return this.items[this.head]
  }

  shift(): Segment | undefined {
    const s = this.items[this.head]
    if (s === undefined) return undefined
    this.items[this.head] = undefined as unknown as Segment
    this.head++
    this.total -= s.data.length
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return s
  }

  /** Every queued segment, front to back (for re-timing after a partition). */
  *[Symbol.iterator](): IterableIterator<Segment> {
    for (let i = this.head; i < this.items.length; i++) yield this.items[i]!
  }

  /** Empties the queue and returns how many bytes it held. */
  clear(): number {
    const dropped = this.total
    this.items = []
    this.head = 0
    this.total = 0
    return dropped
  }
}
