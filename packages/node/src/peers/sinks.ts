/**
 * The upcall interfaces of peers/: what the layers above implement to receive what other
 * relays send. peers/ never imports the router or the directory; they implement these.
 */
import type { ErrorCode, Frame, TunnelOpenFrame } from '@herald/wire'
import type { PeerLink } from './peer-link.js'

/** Data from other relays, for the router. */
export interface PeerFrameSink {
  /** A link finished its handshake (it replaces any older link to the same relay). */
  linkUp(link: PeerLink): void
  /** The current link to a relay is gone. */
  linkDown(link: PeerLink, why: string): void
  /** REQUEST, REPLY, FAILURE or BROADCAST from `peer`; `bytes` is the whole frame as received. */
  frame(peer: string, frame: Frame, bytes: Uint8Array): void
  /** An EVENT from `peer`: its topic, and the frame's bytes (forwarded as they are). */
  event(peer: string, topic: string, bytes: Uint8Array): void
}

/** Directory gossip from other relays, for the directory. */
export interface GossipSink {
  linkUp(link: PeerLink): void
  entries(link: PeerLink, json: Uint8Array): void
  digest(link: PeerLink, json: Uint8Array): void
  /** Neither a link nor a connection to `peer` is left. */
  peerLost(peer: string): void
}

/** A tunnel stream as its sink sees it: one more endpoint of the router. */
export interface TunnelEnd {
  readonly kind: 'tunnel-stream'
  send(frame: Frame): void
}

/** The tunnel frames of tunnel streams, for the router. */
export interface TunnelSink {
  attach(stream: TunnelEnd): void
  detach(stream: TunnelEnd, why: string): void
  openTunnel(stream: TunnelEnd, frame: TunnelOpenFrame): void
  tunnelAccept(stream: TunnelEnd, id: number, allowance: number): void
  tunnelData(stream: TunnelEnd, id: number, payload: Uint8Array): void
  tunnelAllowance(stream: TunnelEnd, id: number, bytes: number): void
  tunnelClose(stream: TunnelEnd, id: number, code: ErrorCode, reason: string): void
}

export interface LinkSinks {
  data: PeerFrameSink
  gossip: GossipSink
  tunnels: TunnelSink
}
