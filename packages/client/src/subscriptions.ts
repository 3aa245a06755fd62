import type { Subscription } from './subscription.js'

/** A connection's subscriptions by topic (several may share one): where EVENT frames go. */
export class Subscriptions {
  private readonly topics = new Map<string, Subscription[]>()

  add(sub: Subscription): void {
    const list = this.topics.get(sub.topic)
    if (list === undefined) this.topics.set(sub.topic, [sub])
    else list.push(sub)
  }

  /** False when it was not there (already removed). */
  remove(sub: Subscription): boolean {
    const list = this.topics.get(sub.topic)
    if (list === undefined) return false
    const i = list.indexOf(sub)
    if (i < 0) return false
    list.splice(i, 1)
    if (list.length === 0) this.topics.delete(sub.topic)
    return true
  }

  /** One event for `topic` (the hot path: no frame object, `payload` may be a view of the socket's buffer). */
  deliver(topic: string, payload: Uint8Array): void {
    const list = this.topics.get(topic)
    if (list === undefined) return
    for (let i = 0; i < list.length; i++) (list[i] as Subscription).deliver(payload)
  }

  /** The relay dropped `count` events of `topic` for this connection. */
  dropped(topic: string, count: number): void {
    for (const sub of this.topics.get(topic) ?? []) sub.relayDropped(count)
  }

  /** The connection ended: every subscription ends (with `error` when it was lost). */
  closeAll(error: Error | undefined): void {
    for (const list of this.topics.values()) for (const s of list) s.markClosed(error)
    this.topics.clear()
  }
}
