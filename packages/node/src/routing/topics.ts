import { ErrorCode } from '@herald/wire'
import type { RemoteNodes } from '../directory/remote-index.js'
import type { Ack, ClientEndpoint, Endpoint } from './endpoint.js'
import { sendToRelays } from './fanout.js'
import type { EndpointState, RouterCounters, Subscriber } from './state.js'
import type { NamedStats, TopicStats } from './stats.js'

/** What a publish asks of its publisher (Topics.publish). */
export type PublishOutcome = typeof PUBLISH_OK | typeof PUBLISH_LINKS_CONGESTED | typeof PUBLISH_RECEIVER_BEHIND
/** Nothing: go on. */
export const PUBLISH_OK = 0
/** A link to another relay is congested: pause until it drains (Router.whenWritable). */
export const PUBLISH_LINKS_CONGESTED = 1
/** A local subscriber is behind: hold off briefly (Session, PUBLISHER_STALL_MS). */
export const PUBLISH_RECEIVER_BEHIND = 2

const OK: Ack = { code: ErrorCode.ok, message: '' }

/** A topic as publishing sees it: one map lookup gives both its subscribers and its counts. */
interface TopicEntry {
  readonly subs: Map<Endpoint, Subscriber>
  /** Its own counts, or the shared `other` ones past the cap. */
  readonly stats: TopicStats
}

export interface TopicsInit {
  counters: RouterCounters
  stats: NamedStats<TopicStats>
  remote: RemoteNodes | undefined
  /** The set of topics with subscribers here changed. */
  changed: () => void
}

/**
 * Subscribers of each topic here, and publishing to them and to other relays' subscribers.
 * A topic keeps its entry while it has subscribers, or for good when it has counts of its own
 * (bounded by the stats' cap), so publishing to it costs one lookup either way.
 */
export class Topics {
  private readonly topics = new Map<string, TopicEntry>()
  /** For topics past the cap without subscribers: nothing is stored for them. */
  private readonly untracked: TopicEntry
  private readonly counters: RouterCounters
  private readonly remote: RemoteNodes | undefined
  private readonly changed: () => void

  constructor(private readonly init: TopicsInit) {
    this.counters = init.counters
    this.remote = init.remote
    this.changed = init.changed
    this.untracked = { subs: new Map(), stats: init.stats.other }
  }

  private entry(topic: string, keep: boolean): TopicEntry {
    const found = this.topics.get(topic)
    if (found !== undefined) return found
    const stats = this.init.stats.get(topic)
    if (!keep && stats === this.init.stats.other) return this.untracked
    const e: TopicEntry = { subs: new Map(), stats }
    this.topics.set(topic, e)
    return e
  }

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
    const subs = this.entry(topic, true).subs
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
    const e = this.topics.get(sub.topic)
    if (e !== undefined && e.subs.delete(sub.endpoint) && e.subs.size === 0) {
      if (e.stats === this.init.stats.other) this.topics.delete(sub.topic)
      this.changed()
    }
    sub.outlet.close()
  }

  /**
   * `frame` is the encoded EVENT frame (the PUBLISH bytes with the type changed), fanned out
   * as it is. What another relay forwarded is delivered here only. Says whether the publisher
   * should hold off: a link to another relay is congested (until it drains), or a local
   * subscriber is behind (briefly: see Outlet.backedUp).
   */
  publish(from: Endpoint, topic: string, frame: Uint8Array): PublishOutcome {
    const counters = this.counters
    counters.published++
    const e = this.topics.get(topic) ?? this.entry(topic, false)
    const stats = e.stats
    let congested = false
    if (from.kind === 'peer') stats.received++
    else {
      stats.published++
      if (this.remote !== undefined) congested = sendToRelays(this.remote, this.remote.topicNodes(topic), frame, counters)
    }
    if (e.subs.size === 0) return congested ? PUBLISH_LINKS_CONGESTED : PUBLISH_OK
    let delivered = 0
    let dropped = 0
    let backedUp = false
    for (const sub of e.subs.values()) {
      if (sub.outlet.offer(frame)) delivered++
      else dropped++
      if (sub.outlet.backedUp) backedUp = true
    }
    counters.delivered += delivered
    counters.dropped += dropped
    stats.delivered += delivered
    stats.dropped += dropped
    return congested ? PUBLISH_LINKS_CONGESTED : backedUp ? PUBLISH_RECEIVER_BEHIND : PUBLISH_OK
  }

  /** Topics with subscribers here. */
  names(): string[] {
    const out: string[] = []
    for (const [name, e] of this.topics) if (e.subs.size > 0) out.push(name)
    return out
  }

  rows(): Array<{ name: string; subscribers: number; dropped: number }> {
    const out: Array<{ name: string; subscribers: number; dropped: number }> = []
    for (const [name, e] of this.topics) {
      if (e.subs.size === 0) continue
      let dropped = 0
      for (const x of e.subs.values()) dropped += x.outlet.dropped
      out.push({ name, subscribers: e.subs.size, dropped })
    }
    return out
  }
}
