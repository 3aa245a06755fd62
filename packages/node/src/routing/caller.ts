import { ErrorCode, FrameType, type Frame } from '@herald/wire'
import type { Endpoint } from './endpoint.js'
import type { Router } from './router.js'

/** A request the relay made for itself failed: its code and the message. */
export class CallError extends Error {
  override readonly name = 'CallError'
  constructor(readonly code: ErrorCode, message: string) {
    super(message)
  }
}

/**
 * Requests the relay makes itself, as a local client would (the dashboard asking other relays
 * for their status). An endpoint of kind 'client', so its requests may go to other relays;
 * at most `maxPending` at once.
 */
export class RelayCaller implements Endpoint {
  readonly kind = 'client' as const
  private readonly pending = new Map<number, { resolve: (b: Uint8Array) => void; reject: (e: Error) => void }>()
  private nextId = 1
  private closed = false

  constructor(private readonly router: Router, private readonly maxPending = 256) {
    router.attach(this)
  }

  request(cluster: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed) return Promise.reject(new CallError(ErrorCode.closed, 'the relay is stopping'))
    if (this.pending.size >= this.maxPending) return Promise.reject(new CallError(ErrorCode.limit, `${this.maxPending} requests are pending already`))
    const id = this.nextId
    this.nextId = id >= 0x7fffffff ? 1 : id + 1
    return new Promise((resolve, reject) => {
      // Set before routing: the answer may come at once (this relay's own status).
      this.pending.set(id, { resolve, reject })
      this.router.request(this, { id, timeoutMs, cluster, payload })
    })
  }

  send(frame: Frame): void {
    if (frame.type !== FrameType.reply && frame.type !== FrameType.failure) return
    const p = this.pending.get(frame.id)
    if (p === undefined) return
    this.pending.delete(frame.id)
    if (frame.type === FrameType.reply) p.resolve(frame.payload)
    else p.reject(new CallError(frame.code, frame.message))
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.router.detach(this, 'the relay is stopping')
    for (const p of this.pending.values()) p.reject(new CallError(ErrorCode.closed, 'the relay is stopping'))
    this.pending.clear()
  }
}
