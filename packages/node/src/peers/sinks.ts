/**
 * The upcall interfaces of peers/: what the layers above implement to receive what other
 * relays send. peers/ never imports the router or the directory; they implement these.
 */
import type { ErrorCode, Frame, TunnelOpenFrame } from '@herald/wire'
import type { PeerLink } from './peer-link.js'
import type { TunnelStream } from './tunnel-stream.js'

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

/** The tunnel frames of tunnel streams, for the router (a tunnel stream is one more endpoint). */
export interface TunnelSink {
  attach(stream: TunnelStream): void
  detach(stream: TunnelStream, why: string): void
  openTunnel(stream: TunnelStream, frame: TunnelOpenFrame): void
  tunnelAccept(stream: TunnelStream, id: number, allowance: number): void
  tunnelData(stream: TunnelStream, id: number, payload: Uint8Array): void
  tunnelAllowance(stream: TunnelStream, id: number, bytes: number): void
  tunnelClose(stream: TunnelStream, id: number, code: ErrorCode, reason: string): void
}

export interface LinkSinks {
  data: PeerFrameSink
  gossip: GossipSink
  tunnels: TunnelSink
}
