import { copyBytes, Deque } from '@herald/wire'
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
  /** Stops delivery at once and tells the relay. */
  unsubscribeTopic(sub: Subscription): Promise<void>
  /** Tells the relay, and keeps delivering until it confirmed (every event it sent before has arrived). */
  drainTopic(sub: Subscription): Promise<void>
}

/**
 * One subscription to a topic: async-iterable, or driven by a handler. Its buffer is bounded
 * by `limits.memory`; events past it are dropped and counted, never blocking other traffic.
 * Like a nats.js subscription it has `closed` (a promise), `unsubscribe()`, `drain()`, and
 * it is AsyncDisposable (`await using sub = await conn.subscribe(topic)`).
 */
export class Subscription implements AsyncIterable<HeraldEvent>, AsyncDisposable {
  readonly topic: string
  readonly memoryLimit: number
  private readonly handler: SubscriptionHandler | undefined
  private readonly owner: SubscriptionOwner
  private readonly ring: KeyRing | undefined
  private readonly queue: Deque<HeraldEvent>
  private busy = false
  private waiter: ((v: IteratorResult<HeraldEvent>) => void) | undefined
  private state: 'open' | 'draining' | 'closed' = 'open'
  private closeError: Error | undefined
  private resolveClosed!: (error: Error | undefined) => void
  private idleWaiter: (() => void) | undefined
  /** Resolves when the subscription has ended: undefined after unsubscribe/drain, the error when the connection was lost. */
  readonly closed: Promise<Error | undefined>
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
    this.queue = new Deque({ maxBytes: init.memoryLimit, sizeOf: (ev) => ev.length })
    this.closed = new Promise((resolve) => { this.resolveClosed = resolve })
  }

  /** True once unsubscribed, drained, or the connection closed. */
  get isClosed(): boolean {
    return this.state === 'closed'
  }

  stats(): SubscriptionStats {
    return { delivered: this.delivered, dropped: this.dropped, rejected: this.rejected, queuedBytes: this.queue.bytes }
  }

  /** Internal: one event from the relay. `payload` may be a view of a socket buffer. */
  deliver(payload: Uint8Array): void {
    if (this.state === 'closed') return
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
    if (this.handler !== undefined && !this.busy && this.queue.length === 0) {
      this.runHandler(payload)
      return
    }
    if (!this.queue.push(copyBytes(payload))) this.dropped++
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
    while (!this.busy && this.state !== 'closed') {
      const next = this.queue.shift()
      if (next === undefined) break
      this.runHandler(next)
    }
    if (!this.busy && this.queue.length === 0) this.idleWaiter?.()
  }

  /** The next event (when no handler is set). Done once unsubscribed (or drained) and nothing is left, or the connection closed. */
  next(options: WaitOptions = {}): Promise<IteratorResult<HeraldEvent>> {
    const ev = this.queue.shift()
    if (ev !== undefined) {
      this.delivered++
      if (this.queue.length === 0) this.idleWaiter?.()
      return Promise.resolve({ value: ev, done: false })
    }
    if (this.state === 'closed') return Promise.resolve({ value: undefined, done: true })
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

  /** Ends the subscription at once; events already queued can still be read. */
  async unsubscribe(): Promise<void> {
    if (this.state === 'closed') return
    this.markClosed(undefined)
    await this.owner.unsubscribeTopic(this)
  }

  /**
   * Ends the subscription without losing what is on its way: the relay stops sending, every
   * event it sent before arrives, and a handler subscription resolves once its handler has
   * processed them all (an iterated one ends after the last of them is read).
   */
  async drain(): Promise<void> {
    if (this.state !== 'open') return
    this.state = 'draining'
    try {
      await this.owner.drainTopic(this)
    } finally {
      if (this.handler !== undefined && (this.busy || this.queue.length > 0)) {
        await new Promise<void>((resolve) => { this.idleWaiter = resolve })
      }
      this.markClosed(undefined)
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.unsubscribe()
  }

  /** Internal: the subscription ended (unsubscribed, drained, or the connection closed). */
  markClosed(error: Error | undefined): void {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.closeError = error
    const w = this.waiter
    this.waiter = undefined
    w?.({ value: undefined, done: true })
    this.idleWaiter?.()
    this.resolveClosed(error)
  }

  /** Why the subscription ended, when it was not unsubscribed. */
  get error(): Error | undefined {
    return this.closeError
  }
}
