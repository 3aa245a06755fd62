import { ErrorCode, FrameType, MAX_TIMER_MS, type Frame } from '@herald/wire'
import type { Clock, Timer } from '../clock.js'
import type { Endpoint } from './endpoint.js'
import type { Endpoints, EndpointState, MemberState, RequestState, RouterCounters } from './state.js'
import { newClusterStats, type ClusterStats, type LatencyHistogram, type NamedStats, type RequestOutcomes } from './stats.js'
import type { Waiting } from './waiting.js'
import { IdMap } from './id-map.js'

export interface RequestFrame {
  id: number
  timeoutMs: number
  cluster: string
  payload: Uint8Array
}

export function failure(id: number, code: ErrorCode, message: string): Frame {
  return { type: FrameType.failure, id, code, message }
}

export interface RequestTableInit {
  endpoints: Endpoints
  counters: RouterCounters
  /** Outcomes and latency per cluster. */
  stats: NamedStats<ClusterStats>
  clock: Clock
  waiting: Waiting
  /** A deadline freed the member's slot (its requestConcurrency and requestMemory). */
  released: (member: MemberState) => void
}

/**
 * A request's state, made by a constructor rather than an object literal: in the rows with
 * requests beside a stream, objects from the literal ended up in the old generation as garbage
 * (6.9-8.5 MiB of sampled survivors in 9 s per relay; 0.1-1.1 MiB with the constructor) —
 * most likely V8 pretenuring the literal's allocation site (docs/performance.md, sixth round).
 */
class TrackedRequest implements RequestState {
  readonly originId: number
  readonly cluster: string
  readonly timeoutMs: number
  payload: Uint8Array | undefined = undefined
  readonly size: number
  member: MemberState | undefined = undefined
  remote: string | undefined = undefined
  timer: Timer | undefined = undefined
  answered = false

  constructor(
    readonly rid: number,
    readonly origin: Endpoint,
    frame: RequestFrame,
    readonly deadline: number,
    readonly outcomes: RequestOutcomes,
    readonly latency: LatencyHistogram | undefined,
    readonly startedAt: number,
  ) {
    this.originId = frame.id
    this.cluster = frame.cluster
    this.timeoutMs = frame.timeoutMs
    this.size = frame.payload.length
  }
}

/**
 * Every request in the router from arrival to answer: its id, its deadline, where it went,
 * and the one answer its origin gets. A request whose client left while a member works on it
 * stays here, holding the member's slot, until the member answers or the deadline passes.
 * At the deadline the slot is freed and the request forgotten, so a late answer is discarded:
 * a member that skips expired requests keeps its slots (protocol.md, Request/reply).
 */
export class RequestTable {
  private readonly requests = new IdMap<RequestState>()
  /** Requests in flight per remote relay (its load, as seen from here). */
  private readonly remote = new Map<string, IdMap<RequestState>>()
  private nextRid = 1
  private idle: (() => void) | undefined
  /** Sub-millisecond time for latencies (the clock's `precise`, else its `now`). */
  private readonly preciseNow: () => number

  constructor(private readonly init: RequestTableInit) {
    const clock = init.clock
    this.preciseNow = clock.precise !== undefined ? () => clock.precise!() : () => clock.now()
  }

  get size(): number {
    return this.requests.size
  }

  get(rid: number): RequestState | undefined {
    return this.requests.get(rid)
  }

  /** Requests in flight at relay `node`. */
  atRemote(node: string): number {
    return this.remote.get(node)?.size ?? 0
  }

  /** A new request from `origin`, with its deadline running; `counted`: in its cluster's stats. */
  track(origin: Endpoint, st: EndpointState, frame: RequestFrame, counted = true): RequestState {
    const { clock } = this.init
    const rid = this.allocRid()
    const stats = counted ? this.init.stats.get(frame.cluster) : newClusterStats()
    const fromClient = origin.kind === 'client' && counted
    const r = new TrackedRequest(rid, origin, frame, clock.now() + frame.timeoutMs,
      fromClient ? stats.fromClients : stats.fromRelays, fromClient ? stats.latency : undefined, this.preciseNow())
    this.requests.set(rid, r)
    st.requests.set(rid, r)
    r.timer = clock.setTimeout(() => this.timeout(r), Math.min(frame.timeoutMs, MAX_TIMER_MS))
    return r
  }

  /** The request went to relay `node`. */
  sentTo(r: RequestState, node: string): void {
    r.remote = node
    let set = this.remote.get(node)
    if (set === undefined) {
      set = new IdMap()
      this.remote.set(node, set)
    }
    set.set(r.rid, r)
  }

  /** The link to relay `node` is gone: the requests it was serving. */
  lostRemote(node: string): RequestState[] {
    const set = this.remote.get(node)
    this.remote.delete(node)
    return set?.values() ?? []
  }

  /** Answers and forgets. */
  finish(r: RequestState, frame: Frame): void {
    this.answer(r, frame)
    this.forget(r)
  }

  /**
   * The origin is gone: drop what it asked for. A request already at a member keeps the
   * member's slot until it answers, or until its deadline (the timer keeps running for it).
   */
  forgetOrigin(st: EndpointState): void {
    for (const r of st.requests.values()) {
      r.answered = true
      if (r.member === undefined) {
        this.init.waiting.drop(r)
        this.forget(r)
      }
    }
    this.checkIdle()
  }

  /** Waits (up to graceMs) for members to answer what they hold, then fails every request left. */
  async drain(graceMs: number): Promise<void> {
    if (this.atMembers()) {
      await new Promise<void>((resolve) => {
        const timer = this.init.clock.setTimeout(resolve, graceMs)
        this.idle = () => {
          this.init.clock.clearTimeout(timer)
          resolve()
        }
      })
      this.idle = undefined
    }
    for (const r of this.requests.values()) {
      if (!r.answered) this.finish(r, failure(r.originId, ErrorCode.shutdown, 'the relay shut down'))
    }
  }

  private allocRid(): number {
    for (;;) {
      const rid = this.nextRid
      this.nextRid = rid >= 0xffffffff ? 1 : rid + 1
      if (!this.requests.has(rid)) return rid
    }
  }

  private timeout(r: RequestState): void {
    r.timer = undefined
    if (!r.answered) {
      this.init.counters.timeouts++
      if (r.member === undefined && r.remote === undefined) this.init.waiting.drop(r)
      this.answer(r, failure(r.originId, ErrorCode.timeout, `request to "${r.cluster}" timed out after ${r.timeoutMs} ms`))
    }
    // The deadline frees the member's slot: version 1 has no CANCEL to tell the member, which
    // knows the deadline from timeoutMs and should stop; its late answer finds nothing here.
    const member = r.member
    this.forget(r)
    if (member !== undefined) this.init.released(member)
  }

  /** Sends the origin its answer (once). */
  private answer(r: RequestState, frame: Frame): void {
    if (r.answered) return
    r.answered = true
    this.init.clock.clearTimeout(r.timer)
    r.timer = undefined
    const st = this.init.endpoints.get(r.origin)
    st?.requests.delete(r.rid)
    if (st !== undefined) r.origin.send(frame)
    countOutcome(r.outcomes, frame)
    r.latency?.observe(this.preciseNow() - r.startedAt)
    this.checkIdle()
  }

  private forget(r: RequestState): void {
    // An answered request may still have its deadline running (its client left): stop it, as
    // its rid may be handed to another request.
    this.init.clock.clearTimeout(r.timer)
    r.timer = undefined
    this.requests.delete(r.rid)
    if (r.remote !== undefined) this.remote.get(r.remote)?.delete(r.rid)
    const m = r.member
    if (m !== undefined && m.inflight.delete(r.rid)) {
      m.outstanding--
      m.outstandingBytes -= r.size
    }
  }

  /** While draining: wake drain() once no member owes an answer. */
  private checkIdle(): void {
    if (this.idle !== undefined && !this.atMembers()) this.idle()
  }

  private atMembers(): boolean {
    return this.requests.some((r) => !r.answered && r.member !== undefined)
  }
}

/**
 * Counts how the answer `frame` ended a request. A switch of named fields, not
 * `outcomes[name]++`: once per request, a keyed store with six keys costs more than the rest.
 */
function countOutcome(o: RequestOutcomes, frame: Frame): void {
  if (frame.type !== FrameType.failure) {
    o.ok++
    return
  }
  switch (frame.code) {
    case ErrorCode.remote: o.remoteError++; return
    case ErrorCode.timeout: o.timeout++; return
    case ErrorCode.noMembers: o.noMembers++; return
    case ErrorCode.memberLost: o.memberLost++; return
    default: o.refused++
  }
}
