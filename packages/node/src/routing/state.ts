import type { MemberLimits } from '@herald/wire'
import type { Timer } from '../clock.js'
import { IdMap } from './id-map.js'
import type { ClientEndpoint, Endpoint, Outlet } from './endpoint.js'
import type { LatencyHistogram, RequestOutcomes } from './stats.js'

/** One member of a cluster: a client endpoint registered for it. */
export interface MemberState {
  readonly endpoint: ClientEndpoint
  readonly cluster: string
  readonly limits: MemberLimits
  outstanding: number
  outstandingBytes: number
  /** The requests this member holds, by router id. */
  readonly inflight: IdMap<RequestState>
  readonly broadcasts: Outlet
}

/** One request in the router, from its arrival to its answer. */
export interface RequestState {
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
  timer: Timer | undefined
  answered: boolean // the origin has its answer (reply, failure or timeout)
  /** Where its outcome is counted (its cluster's, by origin), and its latency (local clients only). */
  readonly outcomes: RequestOutcomes
  readonly latency: LatencyHistogram | undefined
  /** Arrival, on the clock's precise time (ms), for the latency. */
  readonly startedAt: number
}

export interface Subscriber {
  readonly endpoint: ClientEndpoint
  readonly topic: string
  refs: number
  readonly outlet: Outlet
}

export interface TunnelSide {
  readonly endpoint: Endpoint
  readonly id: number
  /** Bytes this side may still send (granted by the other side). */
  credit: number
}

export interface TunnelState {
  readonly rid: number
  readonly cluster: string
  readonly opener: TunnelSide
  readonly member: TunnelSide
  accepted: boolean
  timer: Timer | undefined
}

/** What the router keeps per endpoint, for routing and for cleanup when it leaves. */
export interface EndpointState {
  /** Members that left their cluster but still owe answers to requests in flight. */
  readonly draining: Set<MemberState>
  /** The requests this endpoint asked and has no answer to yet, by router id. */
  readonly requests: IdMap<RequestState>
  readonly tunnels: Map<number, TunnelState>
  readonly memberships: Map<string, MemberState>
  readonly subscriptions: Map<string, Subscriber>
}

/** A read-only view of an endpoint's state (client limits are checked against it). */
export type EndpointUsage = Pick<Readonly<EndpointState>, 'requests' | 'tunnels' | 'memberships' | 'subscriptions'>

/** The endpoints attached to the router. */
export class Endpoints {
  private readonly states = new Map<Endpoint, EndpointState>()

  attach(endpoint: Endpoint): EndpointState {
    const st: EndpointState = { draining: new Set(), requests: new IdMap(), tunnels: new Map(), memberships: new Map(), subscriptions: new Map() }
    this.states.set(endpoint, st)
    return st
  }

  get(endpoint: Endpoint): EndpointState | undefined {
    return this.states.get(endpoint)
  }

  /** The state of an endpoint that must be attached. */
  of(endpoint: Endpoint): EndpointState {
    const st = this.states.get(endpoint)
    if (st === undefined) throw new Error('endpoint not attached')
    return st
  }

  has(endpoint: Endpoint): boolean {
    return this.states.has(endpoint)
  }

  delete(endpoint: Endpoint): void {
    this.states.delete(endpoint)
  }
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
  /** Times a local publisher was held off briefly because a local subscriber was behind. */
  publisherStalls: number
  tunnelsOpened: number
  tunnelBytes: number
  lookups: number
}

export function newCounters(): RouterCounters {
  return {
    requests: 0, replies: 0, failures: 0, timeouts: 0, membersLost: 0, noMembers: 0,
    broadcasts: 0, published: 0, delivered: 0, dropped: 0, publisherStalls: 0, tunnelsOpened: 0, tunnelBytes: 0, lookups: 0,
  }
}
