import { ErrorCode, FrameType, MAX_TIMER_MS, SERVED_TUNNEL_BASE, STREAM_TUNNEL_ID, tunnelCost } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { RemoteNodes } from '../directory/remote-index.js'
import type { TunnelSink } from '../peers/sinks.js'
import type { Endpoint } from './endpoint.js'
import type { Members } from './members.js'
import type { Endpoints, EndpointState, MemberState, RouterCounters, TunnelSide, TunnelState } from './state.js'

export interface TunnelOpen {
  tunnel: number
  timeoutMs: number
  cluster: string
}

export interface TunnelsInit {
  endpoints: Endpoints
  members: Members
  remote: RemoteNodes | undefined
  counters: RouterCounters
  clock: Clock
  /** Where tunnel streams to other relays report (the router, which attaches them). */
  sink: TunnelSink
}

/**
 * Tunnels: each joins an opener and one member (local, or on another relay through a tunnel
 * stream); the router relays TUNNEL frames between the two ends and enforces flow control
 * at this hop: a sender may not send past the allowance the other end granted.
 */
export class Tunnels {
  private readonly init: TunnelsInit
  private nextServed = 0
  private readonly served = new Set<number>()
  private rr = 0
  stopping = false

  constructor(init: TunnelsInit) {
    this.init = init
  }

  /** Tunnels open now (accepted or being opened). */
  get openCount(): number {
    return this.served.size
  }

  open(origin: Endpoint, st: EndpointState, frame: TunnelOpen): void {
    const { endpoints, members, remote, counters, clock } = this.init
    const refuse = (code: ErrorCode, reason: string): void => origin.send({ type: FrameType.tunnelClose, tunnel: frame.tunnel, code, reason })
    if (frame.timeoutMs === 0) return refuse(ErrorCode.invalid, 'timeoutMs must be at least 1')
    if (frame.tunnel >= SERVED_TUNNEL_BASE) return refuse(ErrorCode.invalid, `tunnel ids chosen by an opener must be below 2^31, got ${frame.tunnel}`)
    if (st.tunnels.has(frame.tunnel)) return refuse(ErrorCode.invalid, `tunnel id ${frame.tunnel} is in use`)
    if (this.stopping) return refuse(ErrorCode.shutdown, 'the relay is shutting down')
    const group = members.group(frame.cluster)
    const localCount = group?.members.length ?? 0
    const remotes = origin.kind !== 'client' || remote === undefined ? [] : remote.clusterNodes(frame.cluster)
    if (localCount === 0 && remotes.length === 0) return refuse(ErrorCode.noMembers, `no members of cluster "${frame.cluster}"`)
    const rid = this.allocServed()
    let target: TunnelSide
    // Spread tunnels over every member in the network: pick a member uniformly.
    const total = localCount + remotes.reduce((s, n) => s + n.members, 0)
    let k = this.rr++ % Math.max(1, total)
    if (k < localCount) {
      const list = group!.members
      let member = list[k] as MemberState
      for (const m of list) if (m.outstanding < member.outstanding) member = m
      target = { endpoint: member.endpoint, id: rid, credit: 0 }
    } else {
      k -= localCount
      let node = remotes[0]!.node
      for (const n of remotes) {
        if (k < n.members) { node = n.node; break }
        k -= n.members
      }
      const stream = remote!.openTunnel(node, this.init.sink)
      target = { endpoint: stream, id: STREAM_TUNNEL_ID, credit: 0 }
    }
    const t: TunnelState = {
      rid, cluster: frame.cluster,
      opener: { endpoint: origin, id: frame.tunnel, credit: 0 },
      member: target,
      accepted: false, timer: undefined,
    }
    st.tunnels.set(frame.tunnel, t)
    endpoints.of(target.endpoint).tunnels.set(target.id, t)
    this.served.add(rid)
    t.timer = clock.setTimeout(() => {
      if (!t.accepted) this.end(t, undefined, ErrorCode.timeout, `no member of "${frame.cluster}" accepted the tunnel within ${frame.timeoutMs} ms`)
    }, Math.min(frame.timeoutMs, MAX_TIMER_MS))
    counters.tunnelsOpened++
    target.endpoint.send({ type: FrameType.tunnelOpen, tunnel: target.id, timeoutMs: frame.timeoutMs, cluster: frame.cluster })
  }

  accept(endpoint: Endpoint, id: number, allowance: number): void {
    const x = this.find(endpoint, id)
    if (x === undefined || x.self !== x.t.member || x.t.accepted) return
    x.t.accepted = true
    this.init.clock.clearTimeout(x.t.timer)
    x.t.timer = undefined
    x.t.opener.credit += allowance
    x.t.opener.endpoint.send({ type: FrameType.tunnelAccept, tunnel: x.t.opener.id, allowance })
  }

  /**
   * Returns false when the message ended the tunnel: its sender broke flow control, or it is
   * larger than the other end may be handed (from a relay with a larger limit).
   */
  data(endpoint: Endpoint, id: number, payload: Uint8Array): boolean {
    const x = this.find(endpoint, id)
    if (x === undefined) return true // closed meanwhile: late data is dropped
    if (!x.t.accepted || x.self.credit <= 0) {
      this.end(x.t, undefined, ErrorCode.limit, 'tunnel sender exceeded its allowance')
      return false
    }
    const limit = x.other.endpoint.maxMessageBytes
    if (limit !== undefined && payload.length > limit) {
      this.end(x.t, undefined, ErrorCode.tooLarge, `a tunnel message of ${payload.length} bytes exceeds the limit of ${limit} at the receiving end's relay`)
      return false
    }
    x.self.credit -= tunnelCost(payload.length)
    this.init.counters.tunnelBytes += payload.length
    x.other.endpoint.send({ type: FrameType.tunnelData, tunnel: x.other.id, payload })
    return true
  }

  allowance(endpoint: Endpoint, id: number, bytes: number): void {
    const x = this.find(endpoint, id)
    if (x === undefined) return
    x.other.credit += bytes
    x.other.endpoint.send({ type: FrameType.tunnelAllowance, tunnel: x.other.id, bytes })
  }

  close(endpoint: Endpoint, id: number, code: ErrorCode, reason: string): void {
    const x = this.find(endpoint, id)
    if (x !== undefined) this.end(x.t, x.self, code, reason)
  }

  /** The endpoint is gone: end its tunnels, telling the other ends. */
  detach(endpoint: Endpoint, st: EndpointState): void {
    for (const t of new Set(st.tunnels.values())) {
      const lostMember = t.member.endpoint === endpoint
      const side = t.opener.endpoint === endpoint ? t.opener : t.member
      this.end(t, side, lostMember ? ErrorCode.memberLost : ErrorCode.closed, lostMember ? 'the member was lost' : 'the client went away')
    }
  }

  private find(endpoint: Endpoint, id: number): { t: TunnelState; self: TunnelSide; other: TunnelSide } | undefined {
    const t = this.init.endpoints.get(endpoint)?.tunnels.get(id)
    if (t === undefined) return undefined
    const fromOpener = t.opener.endpoint === endpoint && t.opener.id === id
    return fromOpener ? { t, self: t.opener, other: t.member } : { t, self: t.member, other: t.opener }
  }

  /** Ends a tunnel; tells every side except `from` (the side that closed it). */
  private end(t: TunnelState, from: TunnelSide | undefined, code: ErrorCode, reason: string): void {
    const { endpoints, clock } = this.init
    this.served.delete(t.rid)
    clock.clearTimeout(t.timer)
    t.timer = undefined
    for (const side of [t.opener, t.member]) {
      endpoints.get(side.endpoint)?.tunnels.delete(side.id)
      if (side !== from && endpoints.has(side.endpoint)) {
        side.endpoint.send({ type: FrameType.tunnelClose, tunnel: side.id, code, reason })
      }
    }
  }

  /** A member-side tunnel id, unique among every endpoint's served tunnels. */
  private allocServed(): number {
    for (;;) {
      const id = SERVED_TUNNEL_BASE + this.nextServed
      this.nextServed = (this.nextServed + 1) % SERVED_TUNNEL_BASE
      if (!this.served.has(id)) return id
    }
  }
}
