import { ErrorCode, FrameType, RESERVED_NAME_PREFIX, Role, SERVED_TUNNEL_BASE, type Frame, type RegisterFrame } from '@herald/wire'
import type { RelayLimits } from '../constants.js'
import type { Ack } from '../routing/endpoint.js'
import type { EndpointUsage } from '../routing/state.js'

/* What a client may do: register only with the member role and not reserved names, and hold
 * at most so many requests, subscriptions, tunnels and registrations at once. */

export type ClientLimits = Pick<RelayLimits, 'maxPendingRequestsPerClient' | 'maxSubscriptionsPerClient' | 'maxTunnelsPerClient' | 'maxRegistrationsPerClient'>

/**
 * What one client connection may hold at once. Returns why `f` would take it past a limit,
 * or undefined. A frame the router would refuse anyway (a second registration of the same
 * cluster, a tunnel id in use, a status request) is left to the router, so its answer is
 * the same at the limit as below it.
 */
export function overLimit(limits: ClientLimits, usage: EndpointUsage, f: Frame): string | undefined {
  switch (f.type) {
    case FrameType.request:
      if (usage.requests.size >= limits.maxPendingRequestsPerClient && !f.cluster.startsWith(RESERVED_NAME_PREFIX)) {
        return `more than ${limits.maxPendingRequestsPerClient} requests pending on this connection`
      }
      return undefined
    case FrameType.register:
      if (usage.memberships.size >= limits.maxRegistrationsPerClient && !usage.memberships.has(f.cluster)) {
        return `a connection may register at most ${limits.maxRegistrationsPerClient} clusters`
      }
      return undefined
    case FrameType.subscribe:
      if (usage.subscriptions.size >= limits.maxSubscriptionsPerClient && !usage.subscriptions.has(f.topic)) {
        return `a connection may subscribe to at most ${limits.maxSubscriptionsPerClient} topics`
      }
      return undefined
    case FrameType.tunnelOpen:
      if (usage.tunnels.size >= limits.maxTunnelsPerClient && f.tunnel < SERVED_TUNNEL_BASE && !usage.tunnels.has(f.tunnel)) {
        return `a connection may have at most ${limits.maxTunnelsPerClient} tunnels`
      }
      return undefined
    default:
      return undefined
  }
}

/** An ACK refusing `f` because it would pass a limit, or undefined. */
export function limitAck(limits: ClientLimits, usage: EndpointUsage, f: Frame): Ack | undefined {
  const over = overLimit(limits, usage, f)
  return over === undefined ? undefined : { code: ErrorCode.limit, message: over }
}

/** Why a REGISTER is refused before the router sees it, or undefined. */
export function registrationRefusal(role: Role, f: RegisterFrame, limits: ClientLimits, usage: EndpointUsage): Ack | undefined {
  if (role !== Role.member) return { code: ErrorCode.invalid, message: 'only a connection with the member role may register' }
  if (f.cluster.startsWith(RESERVED_NAME_PREFIX)) return { code: ErrorCode.invalid, message: `cluster names starting with "${RESERVED_NAME_PREFIX}" are reserved` }
  return limitAck(limits, usage, f)
}
