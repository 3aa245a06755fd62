import { copyBytes, ErrorCode, FrameType, type Frame, type MemberLimits } from '@herald/wire'
import { OutQueue } from './outqueue.js'
import {
  MAX_PENDING_REQUESTS_PER_CONNECTION, MAX_QUEUED_REQUEST_BYTES_PER_CLUSTER, MAX_QUEUED_REQUESTS_PER_CLUSTER,
  MAX_REGISTRATIONS_PER_CONNECTION, MAX_SUBSCRIPTIONS_PER_CONNECTION, MAX_TUNNELS_PER_CONNECTION, TUNNEL_MESSAGE_COST,
} from './constants.js'

/**
 * A local client as the router sees it: somewhere to send frames. The router never sees a
 * socket; the client server implements this over one, a test can implement it in memory.
 */
export interface Endpoint {
  readonly id: number
  /** A control frame (reply, failure, ack, tunnel frame): never dropped. */
  send(frame: Frame): void
  /**
   * An encoded event or broadcast frame for one receiver; queued while the socket is backed
   * up, dropped past the queue's limit. Returns false when dropped.
   */
  sendDroppable(queue: OutQueue, frame: Uint8Array, topic: string | undefined): boolean
}

/** Other relays, as the router sees them (the mesh implements this over peer links). */
export interface RemoteNodes {
  /** Relays other than this one with members of `cluster` (and a link to them). */
  clusterNodes(cluster: string): ReadonlyArray<{ node: string; members: number }>
  /** Relays other than this one with subscribers of `topic`. */
  topicNodes(topic: string): readonly string[]
  /** Sends a control frame to a relay; false when there is no link to it. */
  send(node: string, frame: Frame): boolean
  /** Sends pre-encoded event/broadcast bytes; false when dropped. */
  sendDroppable(node: string, frame: Uint8Array): boolean
  /** The link to `node` holds more than it should: publishers should wait (whenWritable). */
  congested(node: string): boolean
  /** Calls `resume` once no link is congested any more (or a link went away). */
  whenWritable(resume: () => void): void
  /** A tunnel stream to `node`: an endpoint that speaks the tunnel frames (id 1) to the relay there. */
  openTunnel(node: string): Endpoint
  /** Local clusters or topics changed (the directory entry must be republished). */
  changed(): void
  /** Looks for relays serving `cluster` beyond the directory (the DHT); true when found. */
  lookup?(cluster: string, timeoutMs: number): Promise<boolean>
}

/** How long a request to an unknown cluster may wait for a DHT lookup, and how many may wait at once. */
const LOOKUP_TIMEOUT_MS = 500
const MAX_LOOKUPS = 256

/** setTimeout fires after 1 ms for delays above 2^31-1 ms (about 24.8 days): timers are capped there. */
const MAX_TIMER_MS = 0x7fffffff

/** The tunnel id used on a relay-to-relay tunnel stream (one tunnel per stream). */
export const STREAM_TUNNEL_ID = 1
/**
 * Tunnel ids are split in two ranges so one connection can open tunnels and serve them
 * without a collision: an opener picks ids below 2^31, the relay numbers the tunnels it hands
 * to a member from 2^31 up.
 */
export const SERVED_TUNNEL_BASE = 0x80000000

export interface MemberState {
  readonly endpoint: Endpoint
  readonly cluster: string
  readonly limits: MemberLimits
  outstanding: number
  outstandingBytes: number
  readonly inflight: Set<number>
  readonly broadcasts: OutQueue
  answered: number
}

interface ClusterGroup {
  readonly name: string
  members: MemberState[]
  rr: number
  queue: RequestState[]
  queueHead: number
  queuedBytes: number
}

interface RequestState {
  readonly rid: number
  readonly origin: Endpoint
  readonly originId: number
  readonly cluster: string
  readonly timeoutMs: number
  readonly deadline: number
  payload: Uint8Array | undefined // held only while queued
  readonly size: number
  member: MemberState | undefined
  /** The relay this request was sent to, when it went to another relay. */
  remote: string | undefined
  timer: ReturnType<typeof setTimeout> | undefined
  answered: boolean // the origin has its answer (reply, failure or timeout)
}

export interface Subscriber {
  readonly endpoint: Endpoint
  readonly topic: string
  refs: number
  readonly queue: OutQueue
}

interface TunnelSide {
  readonly endpoint: Endpoint
  readonly id: number
  /** Bytes this side may still send (granted by the other side). */
  credit: number
}

interface TunnelState {
  readonly rid: number
  readonly cluster: string
  readonly opener: TunnelSide
  readonly member: TunnelSide
  accepted: boolean
  timer: ReturnType<typeof setTimeout> | undefined
}

/** What the router keeps per endpoint, for routing and for cleanup when it leaves. */
interface EndpointState {
  /** Members that left their cluster but still owe answers to requests in flight. */
  readonly draining: Set<MemberState>
  readonly requests: Set<number>
  readonly tunnels: Map<number, TunnelState>
  readonly memberships: Map<string, MemberState>
  readonly subscriptions: Map<string, Subscriber>
}

export interface RouterCounters {
  requests: number
  replies: number
  failures: number
  timeouts: number
  membersLost: number
  noMembers: number
  broadcasts: number
  published: number
  delivered: number
  dropped: number
  tunnelsOpened: number
  tunnelBytes: number
  lookups: number
}

export interface RouterInit {
  /** Answers requests to the relay's own clusters ("$herald.status"); undefined = not handled. */
  systemRequest?: (cluster: string, payload: Uint8Array) => Uint8Array | undefined
}

function failure(id: number, code: number, message: string): Frame {
  return { type: FrameType.failure, id, code: code as ErrorCode, message }
}

/**
 * Decides where every message goes: to local members (least outstanding requests, ties
 * round-robin), to local subscribers, and between the two ends of tunnels. Later, remote
 * relays are further destinations chosen from the directory.
 */
export class Router {
  private readonly endpoints = new Map<Endpoint, EndpointState>()
  private readonly clusters = new Map<string, ClusterGroup>()
  private readonly topics = new Map<string, Map<Endpoint, Subscriber>>()
  private readonly requests = new Map<number, RequestState>()
  private nextRid = 1
  private draining = false
  private remote: RemoteNodes | undefined
  /** Requests in flight per remote relay. */
  private readonly remoteInflight = new Map<string, Set<number>>()
  private tunnelRr = 0
  private lookupsRunning = 0
  private remoteRr = 0
  readonly counters: RouterCounters = {
    requests: 0, replies: 0, failures: 0, timeouts: 0, membersLost: 0, noMembers: 0,
    broadcasts: 0, published: 0, delivered: 0, dropped: 0, tunnelsOpened: 0, tunnelBytes: 0, lookups: 0,
  }
  private readonly systemRequest: RouterInit['systemRequest']

  constructor(init: RouterInit = {}) {
    this.systemRequest = init.systemRequest
  }

  setRemote(remote: RemoteNodes): void {
    this.remote = remote
  }

  /** Calls `resume` once links to other relays can take more (immediately without any). */
  whenWritable(resume: () => void): void {
    if (this.remote === undefined) resume()
    else this.remote.whenWritable(resume)
  }

  private changed(): void {
    this.remote?.changed()
  }

  /** This relay's clusters (member counts, load) and topics, for its directory entry. */
  localSummary(): { clusters: Record<string, { members: number; load: number }>; topics: string[] } {
    const clusters: Record<string, { members: number; load: number }> = {}
    for (const g of this.clusters.values()) {
      if (g.members.length === 0) continue
      clusters[g.name] = { members: g.members.length, load: g.members.reduce((s, m) => s + m.outstanding, 0) }
    }
    return { clusters, topics: [...this.topics.keys()] }
  }

  private nextServedTunnel = 0
  private readonly servedTunnels = new Set<number>()

  /** A member-side tunnel id, unique among every endpoint's served tunnels. */
  private allocServedTunnel(): number {
    for (;;) {
      const id = SERVED_TUNNEL_BASE + this.nextServedTunnel
      this.nextServedTunnel = (this.nextServedTunnel + 1) % SERVED_TUNNEL_BASE
      if (!this.servedTunnels.has(id)) return id
    }
  }

  private allocRid(): number {
    for (;;) {
      const rid = this.nextRid
      this.nextRid = rid >= 0xffffffff ? 1 : rid + 1
      if (!this.requests.has(rid)) return rid
    }
  }

  attach(endpoint: Endpoint): void {
    this.endpoints.set(endpoint, { draining: new Set(), requests: new Set(), tunnels: new Map(), memberships: new Map(), subscriptions: new Map() })
  }

  private state(endpoint: Endpoint): EndpointState {
    const s = this.endpoints.get(endpoint)
    if (s === undefined) throw new Error('endpoint not attached')
    return s
  }

  // ---- membership -------------------------------------------------------------------

  register(endpoint: Endpoint, cluster: string, limits: MemberLimits): { code: ErrorCode; message: string } {
    const st = this.state(endpoint)
    if (st.memberships.has(cluster)) return { code: ErrorCode.invalid, message: `already a member of "${cluster}"` }
    if (st.memberships.size >= MAX_REGISTRATIONS_PER_CONNECTION) {
      return { code: ErrorCode.limit, message: `a connection may register at most ${MAX_REGISTRATIONS_PER_CONNECTION} clusters` }
    }
    for (const [k, v] of Object.entries(limits)) {
      if (typeof v === 'number' && v < 1) return { code: ErrorCode.invalid, message: `limit ${k} must be at least 1` }
    }
    const member: MemberState = {
      endpoint, cluster, limits, outstanding: 0, outstandingBytes: 0, inflight: new Set(),
      broadcasts: new OutQueue(limits.broadcastMemory), answered: 0,
    }
    st.memberships.set(cluster, member)
    let group = this.clusters.get(cluster)
    if (group === undefined) {
      group = { name: cluster, members: [], rr: 0, queue: [], queueHead: 0, queuedBytes: 0 }
      this.clusters.set(cluster, group)
    }
    group.members.push(member)
    this.pump(group)
    this.changed()
    return { code: ErrorCode.ok, message: '' }
  }

  unregister(endpoint: Endpoint, cluster: string): { code: ErrorCode; message: string } {
    const st = this.state(endpoint)
    const member = st.memberships.get(cluster)
    if (member === undefined) return { code: ErrorCode.invalid, message: `not a member of "${cluster}"` }
    st.memberships.delete(cluster)
    // A member leaving gracefully gets no new requests but still answers those it has.
    this.removeMember(member, 'the member left the cluster', false)
    if (member.inflight.size > 0) st.draining.add(member)
    return { code: ErrorCode.ok, message: '' }
  }

  private removeMember(member: MemberState, why: string, failInflight = true): void {
    const group = this.clusters.get(member.cluster)
    if (group !== undefined) {
      group.members = group.members.filter((m) => m !== member)
    }
    if (failInflight) this.failInflight(member, why)
    member.broadcasts.clear()
    if (group !== undefined && group.members.length === 0) {
      // Nobody is left to serve what was waiting.
      for (let i = group.queueHead; i < group.queue.length; i++) {
        const r = group.queue[i] as RequestState
        if (r.answered) continue
        this.counters.noMembers++
        this.finish(r, failure(r.originId, ErrorCode.noMembers, `no members of cluster "${group.name}" remain`))
      }
      this.clusters.delete(group.name)
    }
    this.changed()
  }

  private failInflight(member: MemberState, why: string): void {
    for (const rid of [...member.inflight]) {
      const r = this.requests.get(rid)
      if (r === undefined) continue
      this.counters.membersLost++
      this.finish(r, failure(r.originId, ErrorCode.memberLost, `${why} before answering (cluster "${r.cluster}")`))
    }
    member.inflight.clear()
  }

  // ---- request/reply ----------------------------------------------------------------

  /** A request from a local client, or (localOnly) from another relay, which only local members serve. */
  request(origin: Endpoint, frame: { id: number; timeoutMs: number; cluster: string; payload: Uint8Array }, localOnly = false, lookedUp = false): void {
    const st = this.state(origin)
    if (frame.cluster.startsWith('$') && this.systemRequest !== undefined) {
      const reply = this.systemRequest(frame.cluster, frame.payload)
      if (reply !== undefined) {
        origin.send({ type: FrameType.reply, id: frame.id, payload: reply })
        return
      }
    }
    if (!lookedUp) this.counters.requests++
    if (this.draining) {
      origin.send(failure(frame.id, ErrorCode.shutdown, 'the relay is shutting down'))
      return
    }
    if (st.requests.size >= MAX_PENDING_REQUESTS_PER_CONNECTION) {
      origin.send(failure(frame.id, ErrorCode.limit, `more than ${MAX_PENDING_REQUESTS_PER_CONNECTION} requests pending on this connection`))
      return
    }
    const group = this.clusters.get(frame.cluster)
    const remotes = localOnly || this.remote === undefined ? [] : this.remote.clusterNodes(frame.cluster)
    if ((group === undefined || group.members.length === 0) && remotes.length === 0) {
      if (!localOnly && !lookedUp && this.remote?.lookup !== undefined && frame.timeoutMs > LOOKUP_TIMEOUT_MS && this.lookupsRunning < MAX_LOOKUPS) {
        // Nobody in the directory serves it: ask the DHT before answering "no members".
        const payload = copyBytes(frame.payload)
        const started = Date.now()
        this.counters.lookups++
        this.lookupsRunning++
        const retry = (): void => {
          this.lookupsRunning--
          if (!this.endpoints.has(origin)) return
          const timeoutMs = Math.max(1, frame.timeoutMs - (Date.now() - started))
          this.request(origin, { ...frame, payload, timeoutMs }, false, true)
        }
        this.remote.lookup(frame.cluster, LOOKUP_TIMEOUT_MS).then(retry, retry)
        return
      }
      this.counters.noMembers++
      origin.send(failure(frame.id, ErrorCode.noMembers, `no members of cluster "${frame.cluster}"`))
      return
    }
    const rid = this.allocRid()
    const r: RequestState = {
      rid, origin, originId: frame.id, cluster: frame.cluster, timeoutMs: frame.timeoutMs,
      deadline: Date.now() + frame.timeoutMs, payload: undefined, size: frame.payload.length,
      member: undefined, remote: undefined, timer: undefined, answered: false,
    }
    this.requests.set(rid, r)
    st.requests.add(rid)
    r.timer = setTimeout(() => this.timeout(r), Math.min(frame.timeoutMs, MAX_TIMER_MS))
    const member = group === undefined ? undefined : this.pick(group, r.size)
    // Another relay wins only when its members are less loaded (per member); ties stay local.
    let bestRemote: string | undefined
    let bestScore = member === undefined ? Infinity : member.outstanding
    const start = remotes.length > 0 ? this.remoteRr++ % remotes.length : 0
    for (let k = 0; k < remotes.length; k++) {
      const n = remotes[(start + k) % remotes.length]!
      const score = (this.remoteInflight.get(n.node)?.size ?? 0) / Math.max(1, n.members)
      if (score < bestScore) {
        bestScore = score
        bestRemote = n.node
      }
    }
    if (bestRemote !== undefined && this.dispatchRemote(r, bestRemote, frame.payload)) return
    if (member !== undefined) {
      this.dispatch(r, member, frame.payload)
      return
    }
    if (group === undefined) {
      this.counters.noMembers++
      this.finish(r, failure(r.originId, ErrorCode.noMembers, `no reachable members of cluster "${frame.cluster}"`))
      return
    }
    if (group.queue.length - group.queueHead >= MAX_QUEUED_REQUESTS_PER_CLUSTER ||
        group.queuedBytes + r.size > MAX_QUEUED_REQUEST_BYTES_PER_CLUSTER) {
      this.finish(r, failure(r.originId, ErrorCode.overloaded, `cluster "${frame.cluster}" is overloaded: too many requests waiting`))
      return
    }
    r.payload = copyBytes(frame.payload)
    group.queue.push(r)
    group.queuedBytes += r.size
  }

  /** Least outstanding requests among members with room; ties broken round-robin. */
  private pick(group: ClusterGroup, size: number): MemberState | undefined {
    const n = group.members.length
    let best: MemberState | undefined
    for (let k = 0; k < n; k++) {
      const m = group.members[(group.rr + k) % n] as MemberState
      if (m.outstanding >= m.limits.requestConcurrency) continue
      if (m.outstanding > 0 && m.outstandingBytes + size > m.limits.requestMemory) continue
      if (best === undefined || m.outstanding < best.outstanding) best = m
    }
    if (best !== undefined) group.rr = (group.members.indexOf(best) + 1) % n
    return best
  }

  private dispatch(r: RequestState, member: MemberState, payload: Uint8Array): void {
    r.member = member
    r.payload = undefined
    member.outstanding++
    member.outstandingBytes += r.size
    member.inflight.add(r.rid)
    const timeoutMs = Math.max(1, r.deadline - Date.now())
    member.endpoint.send({ type: FrameType.request, id: r.rid, timeoutMs, cluster: r.cluster, payload })
  }

  private dispatchRemote(r: RequestState, node: string, payload: Uint8Array): boolean {
    const timeoutMs = Math.max(1, r.deadline - Date.now())
    if (!this.remote!.send(node, { type: FrameType.request, id: r.rid, timeoutMs, cluster: r.cluster, payload })) return false
    r.remote = node
    let set = this.remoteInflight.get(node)
    if (set === undefined) {
      set = new Set()
      this.remoteInflight.set(node, set)
    }
    set.add(r.rid)
    return true
  }

  /** Another relay answered a request we sent it. */
  remoteAnswer(node: string, rid: number, frame: { payload: Uint8Array } | { code: ErrorCode; message: string }): void {
    const r = this.requests.get(rid)
    if (r === undefined || r.remote !== node) return
    if ('payload' in frame) {
      this.counters.replies++
      this.finish(r, { type: FrameType.reply, id: r.originId, payload: frame.payload })
    } else {
      this.counters.failures++
      this.finish(r, failure(r.originId, frame.code, frame.message))
    }
  }

  /** The link to another relay is gone: what it was serving has lost its member. */
  remoteLost(node: string): void {
    const set = this.remoteInflight.get(node)
    if (set === undefined) return
    this.remoteInflight.delete(node)
    for (const rid of set) {
      const r = this.requests.get(rid)
      if (r === undefined) continue
      this.counters.membersLost++
      this.finish(r, failure(r.originId, ErrorCode.memberLost, `the relay serving the request to "${r.cluster}" was lost`))
    }
  }

  /** Moves waiting requests to members that have room again. */
  private pump(group: ClusterGroup): void {
    while (group.queueHead < group.queue.length) {
      const r = group.queue[group.queueHead] as RequestState
      if (r.answered) {
        group.queueHead++
        continue
      }
      const member = this.pick(group, r.size)
      if (member === undefined) break
      group.queueHead++
      group.queuedBytes -= r.size
      this.dispatch(r, member, r.payload as Uint8Array)
    }
    if (group.queueHead === group.queue.length) {
      group.queue = []
      group.queueHead = 0
      group.queuedBytes = 0
    } else if (group.queueHead > 1024 && group.queueHead * 2 > group.queue.length) {
      group.queue = group.queue.slice(group.queueHead)
      group.queueHead = 0
    }
  }

  private timeout(r: RequestState): void {
    r.timer = undefined
    if (r.answered) return
    this.counters.timeouts++
    if (r.member === undefined && r.remote === undefined) {
      const group = this.clusters.get(r.cluster)
      if (group !== undefined) group.queuedBytes -= r.size
      r.payload = undefined
    }
    // A member still working keeps its slot until it answers, so its concurrency holds.
    this.answer(r, failure(r.originId, ErrorCode.timeout, `request to "${r.cluster}" timed out after ${r.timeoutMs} ms`))
    if (r.member === undefined) this.forget(r)
  }


  /** Sends the origin its answer (once). */
  private answer(r: RequestState, frame: Frame): void {
    if (r.answered) return
    r.answered = true
    if (r.timer !== undefined) clearTimeout(r.timer)
    r.timer = undefined
    this.endpoints.get(r.origin)?.requests.delete(r.rid)
    if (this.endpoints.has(r.origin)) r.origin.send(frame)
  }

  private forget(r: RequestState): void {
    this.requests.delete(r.rid)
    if (r.remote !== undefined) this.remoteInflight.get(r.remote)?.delete(r.rid)
    const m = r.member
    if (m !== undefined && m.inflight.delete(r.rid)) {
      m.outstanding--
      m.outstandingBytes -= r.size
    }
  }

  private finish(r: RequestState, frame: Frame): void {
    this.answer(r, frame)
    this.forget(r)
  }

  /** A member answered request `rid` (REPLY or FAILURE from the member). */
  memberAnswer(endpoint: Endpoint, rid: number, frame: { payload: Uint8Array } | { code: ErrorCode; message: string }): boolean {
    const r = this.requests.get(rid)
    if (r === undefined || r.member === undefined || r.member.endpoint !== endpoint) return false
    const member = r.member
    member.answered++
    if ('payload' in frame) {
      this.counters.replies++
      this.finish(r, { type: FrameType.reply, id: r.originId, payload: frame.payload })
    } else {
      this.counters.failures++
      this.finish(r, failure(r.originId, frame.code === ErrorCode.ok ? ErrorCode.remote : frame.code, frame.message))
    }
    if (member.inflight.size === 0) this.endpoints.get(endpoint)?.draining.delete(member)
    const group = this.clusters.get(member.cluster)
    if (group !== undefined && group.queueHead < group.queue.length) this.pump(group)
    return true
  }

  // ---- broadcast --------------------------------------------------------------------

  /** `frame` is the encoded BROADCAST frame, forwarded to each member as it is. */
  /** Returns true when a link to another relay is congested: the sender should pause. */
  broadcast(cluster: string, frame: Uint8Array, localOnly = false): boolean {
    this.counters.broadcasts++
    let congested = false
    if (!localOnly && this.remote !== undefined) {
      for (const n of this.remote.clusterNodes(cluster)) {
        if (!this.remote.sendDroppable(n.node, frame)) this.counters.dropped++
        if (this.remote.congested(n.node)) congested = true
      }
    }
    const group = this.clusters.get(cluster)
    if (group === undefined) return congested
    for (const m of group.members) {
      if (m.endpoint.sendDroppable(m.broadcasts, frame, undefined)) this.counters.delivered++
      else this.counters.dropped++
    }
    return congested
  }

  // ---- publish/subscribe ------------------------------------------------------------

  subscribe(endpoint: Endpoint, topic: string, memoryLimit: number): { code: ErrorCode; message: string } {
    const st = this.state(endpoint)
    const existing = st.subscriptions.get(topic)
    if (existing !== undefined) {
      existing.refs++
      return { code: ErrorCode.ok, message: '' }
    }
    if (st.subscriptions.size >= MAX_SUBSCRIPTIONS_PER_CONNECTION) {
      return { code: ErrorCode.limit, message: `a connection may subscribe to at most ${MAX_SUBSCRIPTIONS_PER_CONNECTION} topics` }
    }
    const sub: Subscriber = { endpoint, topic, refs: 1, queue: new OutQueue(memoryLimit) }
    st.subscriptions.set(topic, sub)
    let subs = this.topics.get(topic)
    if (subs === undefined) {
      subs = new Map()
      this.topics.set(topic, subs)
    }
    subs.set(endpoint, sub)
    if (subs.size === 1) this.changed()
    return { code: ErrorCode.ok, message: '' }
  }

  unsubscribe(endpoint: Endpoint, topic: string): { code: ErrorCode; message: string } {
    const st = this.state(endpoint)
    const sub = st.subscriptions.get(topic)
    if (sub === undefined) return { code: ErrorCode.invalid, message: `not subscribed to "${topic}"` }
    if (--sub.refs > 0) return { code: ErrorCode.ok, message: '' }
    st.subscriptions.delete(topic)
    this.dropSubscriber(sub)
    return { code: ErrorCode.ok, message: '' }
  }

  private dropSubscriber(sub: Subscriber): void {
    const subs = this.topics.get(sub.topic)
    subs?.delete(sub.endpoint)
    if (subs !== undefined && subs.size === 0) {
      this.topics.delete(sub.topic)
      this.changed()
    }
    sub.queue.clear()
  }

  /** `frame` is the encoded EVENT frame (the PUBLISH bytes with the type changed), fanned out as it is. */
  /** Returns true when a link to another relay is congested: the publisher should pause. */
  publish(topic: string, frame: Uint8Array, localOnly = false): boolean {
    this.counters.published++
    let congested = false
    if (!localOnly && this.remote !== undefined) {
      const nodes = this.remote.topicNodes(topic)
      for (let i = 0; i < nodes.length; i++) {
        const node = nodes[i] as string
        if (!this.remote.sendDroppable(node, frame)) this.counters.dropped++
        if (this.remote.congested(node)) congested = true
      }
    }
    const subs = this.topics.get(topic)
    if (subs === undefined) return congested
    for (const sub of subs.values()) {
      if (sub.endpoint.sendDroppable(sub.queue, frame, topic)) this.counters.delivered++
      else this.counters.dropped++
    }
    return congested
  }

  // ---- tunnels ----------------------------------------------------------------------

  openTunnel(origin: Endpoint, frame: { tunnel: number; timeoutMs: number; cluster: string }, localOnly = false): void {
    const st = this.state(origin)
    const refuse = (code: ErrorCode, reason: string): void => origin.send({ type: FrameType.tunnelClose, tunnel: frame.tunnel, code, reason })
    if (frame.tunnel >= SERVED_TUNNEL_BASE) return refuse(ErrorCode.invalid, `tunnel ids chosen by an opener must be below 2^31, got ${frame.tunnel}`)
    if (st.tunnels.has(frame.tunnel)) return refuse(ErrorCode.invalid, `tunnel id ${frame.tunnel} is in use`)
    if (st.tunnels.size >= MAX_TUNNELS_PER_CONNECTION) return refuse(ErrorCode.limit, `a connection may have at most ${MAX_TUNNELS_PER_CONNECTION} tunnels`)
    if (this.draining) return refuse(ErrorCode.shutdown, 'the relay is shutting down')
    const group = this.clusters.get(frame.cluster)
    const local = group !== undefined && group.members.length > 0
    const remotes = localOnly || this.remote === undefined ? [] : this.remote.clusterNodes(frame.cluster)
    if (!local && remotes.length === 0) return refuse(ErrorCode.noMembers, `no members of cluster "${frame.cluster}"`)
    const rid = this.allocServedTunnel()
    let target: TunnelSide
    // Spread tunnels over every member in the network: pick a member uniformly.
    const localCount = local ? group.members.length : 0
    const total = localCount + remotes.reduce((s, n) => s + n.members, 0)
    let k = this.tunnelRr++ % Math.max(1, total)
    if (k < localCount) {
      let member = group!.members[k] as MemberState
      for (const m of group!.members) if (m.outstanding < member.outstanding) member = m
      target = { endpoint: member.endpoint, id: rid, credit: 0 }
    } else {
      k -= localCount
      let node = remotes[0]!.node
      for (const n of remotes) {
        if (k < n.members) { node = n.node; break }
        k -= n.members
      }
      const ep = this.remote!.openTunnel(node)
      this.attach(ep)
      target = { endpoint: ep, id: STREAM_TUNNEL_ID, credit: 0 }
    }
    const t: TunnelState = {
      rid, cluster: frame.cluster,
      opener: { endpoint: origin, id: frame.tunnel, credit: 0 },
      member: target,
      accepted: false, timer: undefined,
    }
    st.tunnels.set(frame.tunnel, t)
    this.state(target.endpoint).tunnels.set(target.id, t)
    this.servedTunnels.add(rid)
    t.timer = setTimeout(() => {
      if (!t.accepted) this.closeTunnel(t, undefined, ErrorCode.timeout, `no member of "${frame.cluster}" accepted the tunnel within ${frame.timeoutMs} ms`)
    }, Math.min(frame.timeoutMs, MAX_TIMER_MS))
    this.counters.tunnelsOpened++
    target.endpoint.send({ type: FrameType.tunnelOpen, tunnel: target.id, timeoutMs: frame.timeoutMs, cluster: frame.cluster })
  }

  private tunnelOf(endpoint: Endpoint, id: number): { t: TunnelState; self: TunnelSide; other: TunnelSide } | undefined {
    const t = this.endpoints.get(endpoint)?.tunnels.get(id)
    if (t === undefined) return undefined
    const fromOpener = t.opener.endpoint === endpoint && t.opener.id === id
    return fromOpener ? { t, self: t.opener, other: t.member } : { t, self: t.member, other: t.opener }
  }

  tunnelAccept(endpoint: Endpoint, id: number, allowance: number): void {
    const x = this.tunnelOf(endpoint, id)
    if (x === undefined || x.self !== x.t.member || x.t.accepted) return
    x.t.accepted = true
    if (x.t.timer !== undefined) clearTimeout(x.t.timer)
    x.t.timer = undefined
    x.t.opener.credit += allowance
    x.t.opener.endpoint.send({ type: FrameType.tunnelAccept, tunnel: x.t.opener.id, allowance })
  }

  /** Returns false when the sender broke flow control (the tunnel is then closed). */
  tunnelData(endpoint: Endpoint, id: number, payload: Uint8Array): boolean {
    const x = this.tunnelOf(endpoint, id)
    if (x === undefined) return true // closed meanwhile: late data is dropped
    if (!x.t.accepted || x.self.credit <= 0) {
      this.closeTunnel(x.t, undefined, ErrorCode.limit, 'tunnel sender exceeded its allowance')
      return false
    }
    x.self.credit -= payload.length + TUNNEL_MESSAGE_COST
    this.counters.tunnelBytes += payload.length
    x.other.endpoint.send({ type: FrameType.tunnelData, tunnel: x.other.id, payload })
    return true
  }

  tunnelAllowance(endpoint: Endpoint, id: number, bytes: number): void {
    const x = this.tunnelOf(endpoint, id)
    if (x === undefined) return
    x.other.credit += bytes
    x.other.endpoint.send({ type: FrameType.tunnelAllowance, tunnel: x.other.id, bytes })
  }

  tunnelClose(endpoint: Endpoint, id: number, code: ErrorCode, reason: string): void {
    const x = this.tunnelOf(endpoint, id)
    if (x === undefined) return
    this.closeTunnel(x.t, x.self, code, reason)
  }

  /** Ends a tunnel; tells every side except `from` (the side that closed it). */
  private closeTunnel(t: TunnelState, from: TunnelSide | undefined, code: ErrorCode, reason: string): void {
    this.servedTunnels.delete(t.rid)
    if (t.timer !== undefined) clearTimeout(t.timer)
    t.timer = undefined
    for (const side of [t.opener, t.member]) {
      this.endpoints.get(side.endpoint)?.tunnels.delete(side.id)
      if (side !== from && this.endpoints.has(side.endpoint)) {
        side.endpoint.send({ type: FrameType.tunnelClose, tunnel: side.id, code, reason })
      }
    }
  }

  // ---- lifecycle --------------------------------------------------------------------

  /** The endpoint is gone: fail what it served, drop what it asked for. */
  detach(endpoint: Endpoint, why: string): void {
    const st = this.endpoints.get(endpoint)
    if (st === undefined) return
    this.endpoints.delete(endpoint)
    for (const member of st.memberships.values()) this.removeMember(member, why)
    for (const member of st.draining) this.failInflight(member, why)
    for (const rid of st.requests) {
      const r = this.requests.get(rid)
      if (r === undefined) continue
      r.answered = true
      if (r.timer !== undefined) clearTimeout(r.timer)
      if (r.member === undefined) {
        const group = this.clusters.get(r.cluster)
        if (group !== undefined) group.queuedBytes -= r.size
        r.payload = undefined
        this.forget(r)
      }
      // A request already at a member keeps the member's slot until it answers.
    }
    for (const t of new Set(st.tunnels.values())) {
      const side = t.opener.endpoint === endpoint ? t.opener : t.member
      this.closeTunnel(t, side, t.member.endpoint === endpoint ? ErrorCode.memberLost : ErrorCode.closed, t.member.endpoint === endpoint ? 'the member was lost' : 'the client went away')
    }
    for (const sub of st.subscriptions.values()) this.dropSubscriber(sub)
  }

  /** Stops taking new requests and waits (up to graceMs) for members to answer those in flight. */
  async drain(graceMs: number): Promise<void> {
    this.draining = true
    const until = Date.now() + graceMs
    while (Date.now() < until && [...this.requests.values()].some((r) => !r.answered && r.member !== undefined)) {
      await new Promise((r) => setTimeout(r, 20))
    }
    for (const r of [...this.requests.values()]) {
      if (!r.answered) this.finish(r, failure(r.originId, ErrorCode.shutdown, 'the relay shut down'))
    }
  }

  /** A snapshot for `herald status`. */
  snapshot(): {
    clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
    topics: Array<{ name: string; subscribers: number; dropped: number }>
    counters: RouterCounters
    inflight: number
  } {
    return {
      clusters: [...this.clusters.values()].map((g) => ({
        name: g.name, members: g.members.length,
        outstanding: g.members.reduce((s, m) => s + m.outstanding, 0),
        queued: g.queue.length - g.queueHead,
      })),
      topics: [...this.topics.entries()].map(([name, subs]) => ({
        name, subscribers: subs.size, dropped: [...subs.values()].reduce((s, x) => s + x.queue.dropped, 0),
      })),
      counters: { ...this.counters },
      inflight: this.requests.size,
    }
  }
}
