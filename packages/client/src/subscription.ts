import { copyBytes } from '@herald/wire'
import type { WaitOptions } from './util.js'
import { SealKind, open, type KeyRing } from './keys.js'
import { withDeadline } from './util.js'

/** An event is the published payload. */
export type HeraldEvent = Uint8Array

export interface SubscriptionHandler {
  /** Called once per event, in publish order; a returned promise is awaited before the next. */
  handleEvent(event: HeraldEvent): void | Promise<void>
}

export interface SubscriptionLimits {
  /** Bytes of undelivered events buffered for this subscription; excess events are dropped and counted. */
  memory?: number
}

export interface SubscriptionStats {
  delivered: number
  /** Events dropped here (the application was too slow) plus those the relay reported dropping. */
  dropped: number
  /** Events that could not be opened with the topic key (never delivered). */
  rejected: number
  queuedBytes: number
}

export interface SubscriptionOwner {
  unsubscribeTopic(sub: Subscription): Promise<void>
}

/**
 * One subscription to a topic: async-iterable, or driven by a handler. Its buffer is bounded
 * by `limits.memory`; events past it are dropped and counted, never blocking other traffic.
 */
export class Subscription implements AsyncIterable<HeraldEvent> {
  readonly topic: string
  readonly memoryLimit: number
  private readonly handler: SubscriptionHandler | undefined
  private readonly owner: SubscriptionOwner
  private readonly ring: KeyRing | undefined
  private queue: HeraldEvent[] = []
  private qhead = 0
  private queuedBytes = 0
  private busy = false
  private waiter: ((v: IteratorResult<HeraldEvent>) => void) | undefined
  private isClosed = false
  private closeError: Error | undefined
  delivered = 0
  dropped = 0
  rejected = 0
  /** Called when a handler throws; the subscription carries on. */
  onHandlerError: (err: unknown) => void = () => {}

  constructor(init: { topic: string; memoryLimit: number; handler?: SubscriptionHandler; owner: SubscriptionOwner; ring?: KeyRing }) {
    this.ring = init.ring
    this.topic = init.topic
    this.memoryLimit = init.memoryLimit
    this.handler = init.handler
    this.owner = init.owner
  }

  get closed(): boolean {
    return this.isClosed
  }

  stats(): SubscriptionStats {
    return { delivered: this.delivered, dropped: this.dropped, rejected: this.rejected, queuedBytes: this.queuedBytes }
  }

  /** Internal: one event from the relay. `payload` may be a view of a socket buffer. */
  deliver(payload: Uint8Array): void {
    if (this.isClosed) return
    if (this.ring !== undefined) {
      try {
        payload = open(this.ring, SealKind.event, this.topic, payload).plain
      } catch {
        this.rejected++
        return
      }
    }
    if (this.waiter !== undefined) {
      const w = this.waiter
      this.waiter = undefined
      this.delivered++
      w({ value: copyBytes(payload), done: false })
      return
    }
    if (this.handler !== undefined && !this.busy && this.qhead === this.queue.length) {
      this.runHandler(payload)
      return
    }
    if (this.queuedBytes + payload.length > this.memoryLimit) {
      this.dropped++
      return
    }
    this.queuedBytes += payload.length
    this.queue.push(copyBytes(payload))
  }

  /** Internal: the relay dropped `count` events for this subscription. */
  relayDropped(count: number): void {
    this.dropped += count
  }

  private runHandler(payload: Uint8Array): void {
    this.delivered++
    let result: void | Promise<void>
    try {
      result = (this.handler as SubscriptionHandler).handleEvent(payload)
    } catch (err) {
      this.onHandlerError(err)
      return
    }
    if (result !== undefined && typeof (result as Promise<void>).then === 'function') {
      this.busy = true
      ;(result as Promise<void>).then(
        () => this.handlerDone(),
        (err: unknown) => { this.onHandlerError(err); this.handlerDone() },
      )
    }
  }

  private handlerDone(): void {
    this.busy = false
    while (!this.busy && !this.isClosed) {
      const next = this.shift()
      if (next === undefined) return
      this.runHandler(next)
    }
  }

  private shift(): HeraldEvent | undefined {
    if (this.qhead === this.queue.length) return undefined
    const ev = this.queue[this.qhead] as HeraldEvent
    this.queue[this.qhead] = undefined as unknown as HeraldEvent
    this.qhead++
    if (this.qhead > 1024 && this.qhead * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.qhead)
      this.qhead = 0
    }
    this.queuedBytes -= ev.length
    return ev
  }

  /** The next event (when no handler is set). Done once unsubscribed or the connection closed. */
  next(options: WaitOptions = {}): Promise<IteratorResult<HeraldEvent>> {
    const ev = this.shift()
    if (ev !== undefined) {
      this.delivered++
      return Promise.resolve({ value: ev, done: false })
    }
    if (this.isClosed) return Promise.resolve({ value: undefined, done: true })
    if (this.waiter !== undefined) return Promise.reject(new Error('only one pending next() per subscription'))
    const p = new Promise<IteratorResult<HeraldEvent>>((resolve) => {
      this.waiter = resolve
    })
    return withDeadline(p, options, `subscription to "${this.topic}"`, () => {
      this.waiter = undefined
    })
  }

  [Symbol.asyncIterator](): AsyncIterator<HeraldEvent> {
    return {
      next: () => this.next(),
      return: async () => {
        await this.unsubscribe()
        return { value: undefined, done: true }
      },
    }
  }

  async unsubscribe(): Promise<void> {
    if (this.isClosed) return
    this.markClosed(undefined)
    await this.owner.unsubscribeTopic(this)
  }

  /** Internal: the subscription ended (unsubscribed, or the connection closed). */
  markClosed(error: Error | undefined): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closeError = error
    const w = this.waiter
    this.waiter = undefined
    w?.({ value: undefined, done: true })
  }

  /** Why the subscription ended, when it was not unsubscribed. */
  get error(): Error | undefined {
    return this.closeError
  }
}
