/**
 * routing/ — where every message goes. The Router (router.ts) is a hub: local clients
 * (clients/), other relays (peer-adapter.ts) and tunnel streams (peers/) all meet it as
 * Endpoints, and other relays are reached through RemoteNodes (directory/). It never sees a
 * socket or a stream. Jobs are split by file: members.ts, requests.ts, topics.ts, tunnels.ts.
 *
 * May import: directory/ (RemoteNodes), peers/ (types of what it is handed), clock,
 * constants, @herald/wire. Never clients/.
 */
import type { ErrorCode, Frame } from '@herald/wire'

/**
 * Who an endpoint is, which decides how far its messages go: a local client's reach other
 * relays; what another relay forwards (a peer) or opens over a tunnel stream is served here only.
 */
export type EndpointKind = 'client' | 'peer' | 'tunnel-stream'

/** Somewhere the router sends frames: a local client, another relay, a tunnel stream. */
export interface Endpoint {
  readonly kind: EndpointKind
  /** A control frame (reply, failure, tunnel frame): never dropped. */
  send(frame: Frame): void
  /**
   * The largest payload this endpoint may be handed: for a client, the maxMessageBytes its
   * WELCOME advertised. Undefined for other relays and tunnel streams, which check their own.
   */
  readonly maxMessageBytes?: number
}

/** Where droppable traffic for one receiver goes: a subscription's events, a member's broadcasts. */
export interface Outlet {
  /**
   * An encoded EVENT or BROADCAST frame (the same bytes fan out to many); false when dropped:
   * the receiver is behind past its memory limit, or the payload is larger than it may be handed.
   */
  offer(frame: Uint8Array): boolean
  /** Frames dropped so far. */
  readonly dropped: number
  /**
   * The receiver is behind (frames queue for it) and its queue still has room: a local
   * publisher should hold off briefly (Session, PUBLISHER_STALL_MS) rather than grow the queue.
   */
  readonly backedUp: boolean
  /** The receiver is gone: forget what is queued. */
  close(): void
}

/** A local client: it may also subscribe and serve clusters, so it hands out outlets. */
export interface ClientEndpoint extends Endpoint {
  readonly kind: 'client'
  readonly maxMessageBytes: number
  /** A bounded outlet of `memoryLimit` bytes; `topic` for a subscription, undefined for broadcasts. */
  outlet(memoryLimit: number, topic: string | undefined): Outlet
}

/** The outcome of a registration or subscription change, as the ACK carries it. */
export interface Ack {
  code: ErrorCode
  message: string
}
