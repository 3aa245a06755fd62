import { copyBytes, ErrorCode, FrameType, RESERVED_NAME_PREFIX } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { RemoteNodes } from '../directory/remote-index.js'
import type { Endpoint } from './endpoint.js'
import type { Members } from './members.js'
import { RequestTable, failure, type RequestFrame } from './request-table.js'
import type { Endpoints, EndpointState, MemberState, RequestState, RouterCounters } from './state.js'
import type { ClusterStats, NamedStats } from './stats.js'
import { Waiting } from './waiting.js'

export type { RequestFrame } from './request-table.js'

export type Answer = { payload: Uint8Array } | { code: ErrorCode; message: string }

/**
 * How the relay answers a request to one of its own clusters ("$herald.status"): at once, by
 * asking another relay (one hop: that relay answers it itself), or with a refusal.
 * Undefined: not a cluster the relay serves (routed like any other).
 */
export type SystemAnswer = { reply: Uint8Array } | { relay: string } | { refuse: string } | undefined

export type SystemRequest = (cluster: string, payload: Uint8Array, origin: Endpoint['kind']) => SystemAnswer

export interface RequestsInit {
  endpoints: Endpoints
  members: Members
  remote: RemoteNodes | undefined
  counters: RouterCounters
  stats: NamedStats<ClusterStats>
  clock: Clock
  limits: Pick<RelayLimits, 'maxQueuedRequestsPerCluster' | 'maxQueuedRequestBytesPerCluster' | 'lookupTimeoutMs' | 'maxLookups'>
  /** Answers requests to the relay's own clusters ("$herald.status"). */
  systemRequest: SystemRequest | undefined
}

/**
 * Request/reply: each request goes to one member, local or on another relay, chosen by load;
 * it waits at the relay (bounded) while every member is busy, and ends with exactly one
 * answer to its origin: the reply, a failure, or a timeout (RequestTable).
 */
export class Requests {
  private readonly init: RequestsInit
  private readonly waiting: Waiting
  private readonly table: RequestTable
  private remoteRr = 0
  private lookupsRunning = 0
  /** Payload bytes held by requests waiting for a lookup (bounded like a cluster's queue). */
  private lookupBytes = 0
  stopping = false

  constructor(init: RequestsInit) {
    this.init = init
    this.waiting = new Waiting(init.limits)
    this.table = new RequestTable({
      endpoints: init.endpoints, counters: init.counters, stats: init.stats, clock: init.clock, waiting: this.waiting,
      released: (member) => this.released(member),
    })
  }

  get inflight(): number {
    return this.table.size
  }

  queued(cluster: string): number {
    return this.waiting.count(cluster)
  }

  /** A request from an endpoint; what a peer or a tunnel stream sends is served by local members only. */
  request(origin: Endpoint, frame: RequestFrame): void {
    const { counters, systemRequest } = this.init
    if (frame.timeoutMs === 0) {
      origin.send(failure(frame.id, ErrorCode.invalid, 'timeoutMs must be at least 1'))
      return
    }
    if (frame.cluster.startsWith(RESERVED_NAME_PREFIX) && systemRequest !== undefined) {
      const a = systemRequest(frame.cluster, frame.payload, origin.kind)
      if (a !== undefined) {
        this.system(origin, frame, a)
        return
      }
    }
    counters.requests++
    this.route(origin, this.init.endpoints.of(origin), frame, true)
  }

  /** A request the relay answers itself (not counted in any cluster's stats). */
  private system(origin: Endpoint, frame: RequestFrame, a: NonNullable<SystemAnswer>): void {
    if ('reply' in a) {
      origin.send({ type: FrameType.reply, id: frame.id, payload: a.reply })
    } else if ('refuse' in a) {
      origin.send(failure(frame.id, ErrorCode.noMembers, a.refuse))
    } else {
      const r = this.table.track(origin, this.init.endpoints.of(origin), frame, false)
      if (!this.dispatchRemote(r, a.relay, frame.payload)) {
        this.table.finish(r, failure(r.originId, ErrorCode.memberLost, `relay ${a.relay} cannot be reached`))
      }
    }
  }

  private route(origin: Endpoint, st: EndpointState, frame: RequestFrame, mayLookUp: boolean): void {
    const { counters, members, remote, limits } = this.init
    if (this.stopping) {
      origin.send(failure(frame.id, ErrorCode.shutdown, 'the relay is shutting down'))
      return
    }
    const localOnly = origin.kind !== 'client'
    const group = members.group(frame.cluster)
    const remotes = localOnly || remote === undefined ? [] : remote.clusterNodes(frame.cluster)
    if (group === undefined && remotes.length === 0) {
      if (!localOnly && mayLookUp && remote?.lookup !== undefined && this.lookupsRunning < limits.maxLookups &&
          this.lookupBytes + frame.payload.length <= limits.maxQueuedRequestBytesPerCluster) {
        this.lookup(origin, frame, remote)
        return
      }
      counters.noMembers++
      const stats = this.init.stats.get(frame.cluster)
      const outcomes = localOnly ? stats.fromRelays : stats.fromClients
      outcomes.noMembers++
      origin.send(failure(frame.id, ErrorCode.noMembers, `no members of cluster "${frame.cluster}"`))
      return
    }
    const r = this.table.track(origin, st, frame)
    const member = group === undefined ? undefined : members.pick(group, r.size)
    // Another relay wins only when its members are less loaded (per member); ties stay local.
    let bestRemote: string | undefined
    let bestScore = member === undefined ? Infinity : member.outstanding
    const start = remotes.length > 0 ? this.remoteRr++ % remotes.length : 0
    for (let k = 0; k < remotes.length; k++) {
      const n = remotes[(start + k) % remotes.length]!
      const score = this.table.atRemote(n.node) / Math.max(1, n.members)
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
      counters.noMembers++
      this.table.finish(r, failure(r.originId, ErrorCode.noMembers, `no reachable members of cluster "${frame.cluster}"`))
      return
    }
    if (!this.waiting.push(r, frame.payload)) {
      this.table.finish(r, failure(r.originId, ErrorCode.overloaded, `cluster "${r.cluster}" is overloaded: too many requests waiting`))
    }
  }

  /**
   * Nobody in the directory serves the cluster: before answering "no members", wait (within
   * the request's own timeout) for a relay that served it moments ago, or ask the DHT.
   */
  private lookup(origin: Endpoint, frame: RequestFrame, remote: RemoteNodes): void {
    const { clock, counters, endpoints } = this.init
    const payload = copyBytes(frame.payload)
    const started = clock.now()
    counters.lookups++
    this.lookupsRunning++
    this.lookupBytes += payload.length
    const retry = (): void => {
      this.lookupsRunning--
      this.lookupBytes -= payload.length
      const st = endpoints.get(origin)
      if (st === undefined) return
      const timeoutMs = Math.max(1, frame.timeoutMs - (clock.now() - started))
      this.route(origin, st, { ...frame, payload, timeoutMs }, false)
    }
    remote.lookup!(frame.cluster, frame.timeoutMs).then(retry, retry)
  }

  private dispatch(r: RequestState, member: MemberState, payload: Uint8Array): void {
    r.payload = undefined
    if (r.size > member.endpoint.maxMessageBytes) {
      // From a relay with a larger limit: the member could not take it (protocol.md, Limits).
      this.table.finish(r, failure(r.originId, ErrorCode.tooLarge, `a request of ${r.size} bytes exceeds the limit of ${member.endpoint.maxMessageBytes} at the member's relay`))
      return
    }
    r.member = member
    member.outstanding++
    member.outstandingBytes += r.size
    member.inflight.set(r.rid, r)
    const timeoutMs = Math.max(1, r.deadline - this.init.clock.now())
    member.endpoint.send({ type: FrameType.request, id: r.rid, timeoutMs, cluster: r.cluster, payload })
  }

  private dispatchRemote(r: RequestState, node: string, payload: Uint8Array): boolean {
    const timeoutMs = Math.max(1, r.deadline - this.init.clock.now())
    if (!this.init.remote!.send(node, { type: FrameType.request, id: r.rid, timeoutMs, cluster: r.cluster, payload })) return false
    this.table.sentTo(r, node)
    return true
  }

  /** A member answered request `rid` (REPLY or FAILURE from the member). */
  memberAnswer(endpoint: Endpoint, rid: number, answer: Answer): boolean {
    const r = this.table.get(rid)
    if (r === undefined || r.member === undefined || r.member.endpoint !== endpoint) return false
    const member = r.member
    this.settle(r, answer, true)
    this.released(member)
    return true
  }

  /** A member's slot was freed (an answer, or a deadline): what waits may go to it now. */
  private released(member: MemberState): void {
    if (member.inflight.size === 0) this.init.endpoints.get(member.endpoint)?.draining.delete(member)
    this.pump(member.cluster)
  }

  /** Another relay answered a request we sent it. */
  remoteAnswer(node: string, rid: number, answer: Answer): void {
    const r = this.table.get(rid)
    if (r !== undefined && r.remote === node) this.settle(r, answer, false)
  }

  private settle(r: RequestState, answer: Answer, fromMember: boolean): void {
    const { counters } = this.init
    const limit = r.origin.maxMessageBytes
    if ('payload' in answer && limit !== undefined && answer.payload.length > limit) {
      // From a member on a relay with a larger limit: the caller could not take it.
      counters.failures++
      this.table.finish(r, failure(r.originId, ErrorCode.tooLarge, `a reply of ${answer.payload.length} bytes exceeds the limit of ${limit} at the caller's relay`))
    } else if ('payload' in answer) {
      counters.replies++
      this.table.finish(r, { type: FrameType.reply, id: r.originId, payload: answer.payload })
    } else {
      counters.failures++
      // A member answering FAILURE with code ok means its handler failed: a remote error.
      const code = fromMember && answer.code === ErrorCode.ok ? ErrorCode.remote : answer.code
      this.table.finish(r, failure(r.originId, code, answer.message))
    }
  }

  /** The link to another relay is gone: what it was serving has lost its member. */
  inflightAt(node: string): number {
    return this.table.atRemote(node)
  }

  remoteLost(node: string): void {
    for (const r of this.table.lostRemote(node)) {
      this.init.counters.membersLost++
      this.table.finish(r, failure(r.originId, ErrorCode.memberLost, `the relay serving the request to "${r.cluster}" was lost`))
    }
  }

  /** The member is gone before answering what it holds. */
  failInflight(member: MemberState, why: string): void {
    for (const r of member.inflight.values()) {
      this.init.counters.membersLost++
      this.table.finish(r, failure(r.originId, ErrorCode.memberLost, `${why} before answering (cluster "${r.cluster}")`))
    }
    member.inflight.clear()
  }

  /** The cluster's last member left: nobody is left to serve what was waiting. */
  failWaiting(cluster: string): void {
    for (const r of this.waiting.take(cluster)) {
      if (r.answered) continue
      this.init.counters.noMembers++
      this.table.finish(r, failure(r.originId, ErrorCode.noMembers, `no members of cluster "${cluster}" remain`))
    }
  }

  /** Moves waiting requests to members that have room again. */
  pump(cluster: string): void {
    const group = this.init.members.group(cluster)
    if (group === undefined) return
    this.waiting.pump(cluster, (r) => {
      const member = this.init.members.pick(group, r.size)
      if (member === undefined) return false
      this.dispatch(r, member, r.payload as Uint8Array)
      return true
    })
  }

  /** The origin is gone (see RequestTable.forgetOrigin). */
  forgetOrigin(st: EndpointState): void {
    this.table.forgetOrigin(st)
  }

  /** Stops taking requests; waits (up to graceMs) for members to answer those in flight, then fails the rest. */
  async drain(graceMs: number): Promise<void> {
    this.stopping = true
    await this.table.drain(graceMs)
  }
}
