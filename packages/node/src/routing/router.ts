import { ErrorCode, type MemberLimits, type TunnelOpenFrame } from '@herald/wire'
import { systemClock, type Clock } from '../clock.js'
import { DEFAULT_LIMITS, type RelayLimits } from '../constants.js'
import type { LocalSummary } from '../directory/control-plane.js'
import type { RemoteNodes } from '../directory/remote-index.js'
import type { TunnelSink } from '../peers/sinks.js'
import type { Ack, ClientEndpoint, Endpoint } from './endpoint.js'
import { sendToRelays } from './fanout.js'
import { Members } from './members.js'
import { Requests, type Answer, type RequestFrame, type SystemRequest } from './requests.js'
import { Endpoints, newCounters, type EndpointUsage, type MemberState, type RouterCounters } from './state.js'
import { NamedStats, newClusterStats, newTopicStats, type ClusterStats, type TopicStats } from './stats.js'
import { Topics, type PublishOutcome } from './topics.js'
import { Tunnels, type TunnelOpen } from './tunnels.js'

export interface RouterInit {
  /** Other relays (none: a relay on its own). */
  remote?: RemoteNodes
  clock?: Clock
  limits?: Pick<RelayLimits, 'maxQueuedRequestsPerCluster' | 'maxQueuedRequestBytesPerCluster' | 'lookupTimeoutMs' | 'maxLookups'
    | 'maxStatsClusters' | 'maxStatsTopics'>
  /** Answers requests to the relay's own clusters ("$herald.status"). */
  systemRequest?: SystemRequest
  /** This relay's clusters or topics changed (its directory entry must be republished). */
  onLocalChange?: () => void
}

export interface RouterSnapshot {
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: RouterCounters
  inflight: number
}

const OK: Ack = { code: ErrorCode.ok, message: '' }

/**
 * Decides where every message goes: to local members (least outstanding requests, ties
 * round-robin), to local subscribers, to other relays chosen from the directory, and between
 * the two ends of tunnels. A thin facade: each job lives in its own file, and every caller
 * is an Endpoint whose `kind` says how far its messages may go.
 */
export class Router implements TunnelSink {
  readonly counters: RouterCounters = newCounters()
  /** Requests by outcome and latency, per cluster; events per topic (bounded: see NamedStats). */
  readonly clusterStats: NamedStats<ClusterStats>
  readonly topicStats: NamedStats<TopicStats>
  private readonly init: RouterInit
  private readonly endpoints = new Endpoints()
  private readonly members: Members
  private readonly requests: Requests
  private readonly topics: Topics
  private readonly tunnels: Tunnels

  constructor(init: RouterInit = {}) {
    this.init = init
    const clock = init.clock ?? systemClock
    const limits = init.limits ?? DEFAULT_LIMITS
    this.clusterStats = new NamedStats(limits.maxStatsClusters, newClusterStats)
    this.topicStats = new NamedStats(limits.maxStatsTopics, newTopicStats)
    const shared = { endpoints: this.endpoints, remote: init.remote, counters: this.counters, clock }
    this.members = new Members(this.counters)
    this.requests = new Requests({ ...shared, members: this.members, stats: this.clusterStats, limits, systemRequest: init.systemRequest })
    this.topics = new Topics({ counters: this.counters, stats: this.topicStats, remote: init.remote, changed: () => this.changed() })
    this.tunnels = new Tunnels({ ...shared, members: this.members, sink: this })
  }

  attach(endpoint: Endpoint): void {
    this.endpoints.attach(endpoint)
  }

  /** The endpoint is gone: fail what it served, drop what it asked for. */
  detach(endpoint: Endpoint, why: string): void {
    const st = this.endpoints.get(endpoint)
    if (st === undefined) return
    this.endpoints.delete(endpoint)
    for (const member of st.memberships.values()) this.removeMember(member, why, true)
    for (const member of st.draining) this.requests.failInflight(member, why)
    this.requests.forgetOrigin(st)
    this.tunnels.detach(endpoint, st)
    for (const sub of st.subscriptions.values()) this.topics.drop(sub)
  }

  /** What an endpoint holds now (the client layer checks its per-client limits against it). */
  usage(endpoint: Endpoint): EndpointUsage {
    return this.endpoints.of(endpoint)
  }

  // ---- membership -----------------------------------------------------------------------

  register(endpoint: ClientEndpoint, cluster: string, limits: MemberLimits): Ack {
    const st = this.endpoints.of(endpoint)
    if (st.memberships.has(cluster)) return { code: ErrorCode.invalid, message: `already a member of "${cluster}"` }
    for (const [k, v] of Object.entries(limits)) {
      if (typeof v === 'number' && v < 1) return { code: ErrorCode.invalid, message: `limit ${k} must be at least 1` }
    }
    st.memberships.set(cluster, this.members.add(endpoint, cluster, limits))
    this.requests.pump(cluster)
    this.changed()
    return OK
  }

  unregister(endpoint: Endpoint, cluster: string): Ack {
    const st = this.endpoints.of(endpoint)
    const member = st.memberships.get(cluster)
    if (member === undefined) return { code: ErrorCode.invalid, message: `not a member of "${cluster}"` }
    st.memberships.delete(cluster)
    // A member leaving gracefully gets no new requests but still answers those it has.
    this.removeMember(member, 'the member left the cluster', false)
    if (member.inflight.size > 0) st.draining.add(member)
    return OK
  }

  private removeMember(member: MemberState, why: string, failInflight: boolean): void {
    const emptied = this.members.remove(member)
    if (failInflight) this.requests.failInflight(member, why)
    if (emptied) this.requests.failWaiting(member.cluster)
    this.changed()
  }

  // ---- requests -------------------------------------------------------------------------

  request(origin: Endpoint, frame: RequestFrame): void {
    this.requests.request(origin, frame)
  }

  /** A member answered request `rid` (REPLY or FAILURE); false when it holds no such request. */
  memberAnswer(endpoint: Endpoint, rid: number, answer: Answer): boolean {
    return this.requests.memberAnswer(endpoint, rid, answer)
  }

  /** Another relay answered a request we sent it. */
  remoteAnswer(node: string, rid: number, answer: Answer): void {
    this.requests.remoteAnswer(node, rid, answer)
  }

  /** The link to another relay is gone: what it was serving has lost its member. */
  /** Requests in flight to another relay (sent there, not answered yet). */
  inflightAt(node: string): number {
    return this.requests.inflightAt(node)
  }

  remoteLost(node: string): void {
    this.requests.remoteLost(node)
  }

  // ---- broadcast, publish/subscribe -----------------------------------------------------

  /**
   * `frame` is the encoded BROADCAST frame, sent to each member as it is. Returns true when a
   * link to another relay is congested: the sender should pause.
   */
  broadcast(from: Endpoint, cluster: string, frame: Uint8Array): boolean {
    this.counters.broadcasts++
    this.clusterStats.get(cluster).broadcasts++
    const remote = this.init.remote
    const congested = from.kind === 'peer' || remote === undefined
      ? false
      : sendToRelays(remote, remote.clusterNodes(cluster).map((n) => n.node), frame, this.counters)
    this.members.broadcast(cluster, frame)
    return congested
  }

  subscribe(endpoint: ClientEndpoint, topic: string, memoryLimit: number): Ack {
    return this.topics.subscribe(endpoint, this.endpoints.of(endpoint), topic, memoryLimit)
  }

  unsubscribe(endpoint: Endpoint, topic: string): Ack {
    return this.topics.unsubscribe(this.endpoints.of(endpoint), topic)
  }

  /** See Topics.publish. */
  publish(from: Endpoint, topic: string, frame: Uint8Array): PublishOutcome {
    return this.topics.publish(from, topic, frame)
  }

  /** Calls `resume` once links to other relays can take more (at once without any). */
  whenWritable(resume: () => void): void {
    if (this.init.remote === undefined) resume()
    else this.init.remote.whenWritable(resume)
  }

  // ---- tunnels (also the TunnelSink of tunnel streams) -----------------------------------

  openTunnel(origin: Endpoint, frame: TunnelOpen | TunnelOpenFrame): void {
    this.tunnels.open(origin, this.endpoints.of(origin), frame)
  }

  tunnelAccept(endpoint: Endpoint, id: number, allowance: number): void {
    this.tunnels.accept(endpoint, id, allowance)
  }

  /** Returns false when the message ended the tunnel (see Tunnels.data). */
  tunnelData(endpoint: Endpoint, id: number, payload: Uint8Array): boolean {
    return this.tunnels.data(endpoint, id, payload)
  }

  tunnelAllowance(endpoint: Endpoint, id: number, bytes: number): void {
    this.tunnels.allowance(endpoint, id, bytes)
  }

  tunnelClose(endpoint: Endpoint, id: number, code: ErrorCode, reason: string): void {
    this.tunnels.close(endpoint, id, code, reason)
  }

  // ---- the relay as a whole -------------------------------------------------------------

  /** This relay's clusters (member counts, load) and topics, for its directory entry. */
  localSummary(): LocalSummary {
    return { clusters: this.members.summary(), topics: this.topics.names() }
  }

  /** Stops taking new requests and tunnels; waits (up to graceMs) for members to answer those in flight. */
  async drain(graceMs: number): Promise<void> {
    this.tunnels.stopping = true
    await this.requests.drain(graceMs)
  }

  snapshot(): RouterSnapshot {
    return {
      clusters: this.members.rows().map((c) => ({ ...c, queued: this.requests.queued(c.name) })),
      topics: this.topics.rows(),
      counters: { ...this.counters },
      inflight: this.requests.inflight,
    }
  }

  /** Tunnels open now. */
  get tunnelsOpen(): number {
    return this.tunnels.openCount
  }

  private changed(): void {
    this.init.onLocalChange?.()
  }
}
