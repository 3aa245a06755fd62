import { ErrorCode } from '@herald/wire'
import type { RemoteNodes } from '../directory/remote-index.js'
import type { Ack, ClientEndpoint, Endpoint } from './endpoint.js'
import { sendToRelays } from './fanout.js'
import type { EndpointState, RouterCounters, Subscriber } from './state.js'

const OK: Ack = { code: ErrorCode.ok, message: '' }

/** Subscribers of each topic here, and publishing to them and to other relays' subscribers. */
export class Topics {
  private readonly topics = new Map<string, Map<Endpoint, Subscriber>>()

  constructor(
    private readonly counters: RouterCounters,
    private readonly remote: RemoteNodes | undefined,
    /** The set of topics with subscribers here changed. */
    private readonly changed: () => void,
  ) {}

  subscribe(endpoint: ClientEndpoint, st: EndpointState, topic: string, memoryLimit: number): Ack {
    // Like every limit of 0 (REGISTER's): a subscription that may hold nothing is a mistake.
    if (memoryLimit < 1) return { code: ErrorCode.invalid, message: 'memoryLimit must be at least 1' }
    const existing = st.subscriptions.get(topic)
    if (existing !== undefined) {
      existing.refs++
      return OK
    }
    const sub: Subscriber = { endpoint, topic, refs: 1, outlet: endpoint.outlet(memoryLimit, topic) }
    st.subscriptions.set(topic, sub)
    let subs = this.topics.get(topic)
    if (subs === undefined) {
      subs = new Map()
      this.topics.set(topic, subs)
    }
    subs.set(endpoint, sub)
    if (subs.size === 1) this.changed()
    return OK
  }

  unsubscribe(st: EndpointState, topic: string): Ack {
    const sub = st.subscriptions.get(topic)
    if (sub === undefined) return { code: ErrorCode.invalid, message: `not subscribed to "${topic}"` }
    if (--sub.refs > 0) return OK
    st.subscriptions.delete(topic)
    this.drop(sub)
    return OK
  }

  /** The subscriber is gone. */
  drop(sub: Subscriber): void {
    const subs = this.topics.get(sub.topic)
    subs?.delete(sub.endpoint)
    if (subs !== undefined && subs.size === 0) {
      this.topics.delete(sub.topic)
      this.changed()
    }
    sub.outlet.close()
  }

  /**
   * `frame` is the encoded EVENT frame (the PUBLISH bytes with the type changed), fanned out
   * as it is. What another relay forwarded is delivered here only. Returns true when a link
   * to another relay is congested: the publisher should pause.
   */
  publish(from: Endpoint, topic: string, frame: Uint8Array): boolean {
    this.counters.published++
    const congested = from.kind === 'peer' || this.remote === undefined
      ? false
      : sendToRelays(this.remote, this.remote.topicNodes(topic), frame, this.counters)
    const subs = this.topics.get(topic)
    if (subs === undefined) return congested
    for (const sub of subs.values()) {
      if (sub.outlet.offer(frame)) this.counters.delivered++
      else this.counters.dropped++
    }
    return congested
  }

  names(): string[] {
    return [...this.topics.keys()]
  }

  rows(): Array<{ name: string; subscribers: number; dropped: number }> {
    return [...this.topics.entries()].map(([name, subs]) => ({
      name, subscribers: subs.size, dropped: [...subs.values()].reduce((s, x) => s + x.outlet.dropped, 0),
    }))
  }
}
