import { copyBytes, Deque } from '@herald/wire'
import type { RelayLimits } from '../constants.js'
import type { RequestState } from './state.js'

interface Room {
  readonly queue: Deque<RequestState>
  bytes: number
}

/**
 * Requests waiting at the relay for a member slot, per cluster, bounded in count and bytes.
 * A request answered while it waits (timeout, its client left) stays in the queue and is
 * skipped when it reaches the head; its bytes are released at once.
 */
export class Waiting {
  private readonly rooms = new Map<string, Room>()

  constructor(private readonly limits: Pick<RelayLimits, 'maxQueuedRequestsPerCluster' | 'maxQueuedRequestBytesPerCluster'>) {}

  count(cluster: string): number {
    return this.rooms.get(cluster)?.queue.length ?? 0
  }

  /** Queues `r` with a copy of its payload; false when the cluster's queue is full. */
  push(r: RequestState, payload: Uint8Array): boolean {
    let room = this.rooms.get(r.cluster)
    if (room === undefined) {
      room = { queue: new Deque({ maxItems: this.limits.maxQueuedRequestsPerCluster }), bytes: 0 }
      this.rooms.set(r.cluster, room)
    }
    if (room.bytes + r.size > this.limits.maxQueuedRequestBytesPerCluster || !room.queue.push(r)) return false
    r.payload = copyBytes(payload)
    room.bytes += r.size
    return true
  }

  /** Hands waiting requests, oldest first, to `serve` until it has no room (returns false). */
  pump(cluster: string, serve: (r: RequestState) => boolean): void {
    const room = this.rooms.get(cluster)
    if (room === undefined) return
    for (let r = room.queue.peek(); r !== undefined; r = room.queue.peek()) {
      if (!r.answered) {
        const size = r.size
        if (!serve(r)) break
        room.bytes -= size
      }
      room.queue.shift()
    }
    if (room.queue.length === 0) this.rooms.delete(cluster)
  }

  /** A waiting request was answered (timed out, or its client left): release its bytes. */
  drop(r: RequestState): void {
    if (r.payload === undefined) return
    const room = this.rooms.get(r.cluster)
    if (room !== undefined) room.bytes -= r.size
    r.payload = undefined
  }

  /** Everything waiting for `cluster`, which the caller now owns (the cluster has no members left). */
  take(cluster: string): Iterable<RequestState> {
    const room = this.rooms.get(cluster)
    this.rooms.delete(cluster)
    return room?.queue ?? []
  }
}
