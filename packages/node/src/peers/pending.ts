/**
 * Frames for a relay whose link is still being opened: kept in order, bounded in bytes, and
 * handed to the link once it is up (or dropped if it never comes). The first request or
 * event to a relay we have no link to opens one; nothing sent meanwhile is reordered.
 */
export class Pending {
  private frames: Uint8Array[] = []
  bytes = 0
  dropped = 0

  constructor(private readonly limit: number) {}

  /** Queues encoded frames (owned by the queue); false (and counted) past the limit. */
  push(frame: Uint8Array): boolean {
    if (this.bytes + frame.length > this.limit) {
      this.dropped++
      return false
    }
    this.frames.push(frame)
    this.bytes += frame.length
    return true
  }

  /** Everything queued, oldest first; the queue is empty after. */
  take(): Uint8Array[] {
    const out = this.frames
    this.frames = []
    this.bytes = 0
    return out
  }

  get length(): number {
    return this.frames.length
  }
}
