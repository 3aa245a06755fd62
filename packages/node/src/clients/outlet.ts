import { FrameType, namedPayloadBytes, type FrameChannel } from '@herald/wire'
import type { Outlet } from '../routing/endpoint.js'
import { OutQueue } from './out-queue.js'

/** A receiver with this much queued (or a quarter of its memory limit, if less) is behind. */
export const STALL_BACKLOG_BYTES = 1024 * 1024

/** The connection an outlet writes to. */
export interface OutletHost {
  readonly channel: FrameChannel
  /** Above this many bytes waiting for the socket, droppable frames queue in their outlet. */
  readonly highWaterBytes: number
  /** The largest payload the client was told (WELCOME) it may be handed. */
  readonly maxMessageBytes: number
  /** The outlet queued frames: flush it (ClientOutlet.flush) when the socket can take more. */
  backlogged(outlet: ClientOutlet): void
}

/**
 * A client's droppable traffic for one receiver (a subscription, or a member's broadcasts).
 * While the connection keeps up, frames go straight into its write batch; once more than
 * `highWaterBytes` wait for the socket, they queue here (bounded by the receiver's memory
 * limit: past it they are dropped and counted) and leave as the socket drains. So a slow
 * receiver loses its own events and never stalls anyone else.
 */
export class ClientOutlet implements Outlet {
  private readonly queue: OutQueue
  /** Queued bytes past which publishers are held off (see backedUp). */
  private readonly stallBytes: number

  constructor(
    private readonly host: OutletHost,
    memoryLimit: number,
    /** Drops are reported to subscriptions (DROPPED frames); a member's broadcasts have none. */
    readonly topic: string | undefined,
  ) {
    this.queue = new OutQueue(memoryLimit)
    this.stallBytes = Math.max(1, Math.min(STALL_BACKLOG_BYTES, Math.floor(memoryLimit / 4)))
  }

  get dropped(): number {
    return this.queue.dropped
  }

  /**
   * More than a quarter of the receiver's memory limit (at most 1 MiB) waits here, and more
   * than that is still free: publishers should hold off briefly (Session.stallForReceiver).
   * A queue nearly full drops instead of stalling anyone.
   */
  get backedUp(): boolean {
    const q = this.queue
    return q.bytes >= this.stallBytes && q.bytes <= q.limit - this.stallBytes
  }

  offer(frame: Uint8Array): boolean {
    if (namedPayloadBytes(frame) > this.host.maxMessageBytes) {
      // From a relay with a larger limit: the client would refuse the frame and hang up, so it
      // loses this one message instead, reported like a drop for memory (protocol.md, Limits):
      // at once, in the event's place, unless frames wait here (then with them, on the next flush).
      this.queue.drop()
      if (this.queue.empty && !this.host.channel.closed) this.flush()
      return false
    }
    const channel = this.host.channel
    if (this.queue.empty && channel.offerRaw(frame, this.host.highWaterBytes)) return true
    if (channel.closed) return false
    const ok = this.queue.offer(frame)
    this.host.backlogged(this)
    return ok
  }

  /** Reports drops, then moves queued frames out while the socket has room; false when it filled up again. */
  flush(): boolean {
    const { channel, highWaterBytes } = this.host
    const q = this.queue
    if (q.unreported > 0 && this.topic !== undefined) {
      channel.send({ type: FrameType.dropped, topic: this.topic, count: q.unreported })
      q.unreported = 0
    }
    for (;;) {
      if (channel.pending > highWaterBytes) return false
      const block = q.take()
      if (block === undefined) return true
      channel.sendOwned(block)
    }
  }

  close(): void {
    this.queue.clear()
  }
}
