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
  /** Requests are in flight to or from `peer`: its link must not be closed as idle. */
  inUse(peer: string): boolean
  /** A link we were opening (frames waited for it) could not be opened. */
  linkFailed(peer: string, why: string): void
  /** REQUEST, REPLY, FAILURE or BROADCAST from `peer`; `bytes` is the whole frame as received. */
  frame(peer: string, frame: Frame, bytes: Uint8Array): void
  /** An EVENT from `peer`: its topic, and the frame's bytes (forwarded as they are). */
  event(peer: string, topic: string, bytes: Uint8Array): void
}

/** The control plane (membership, failure detection, the directory), for directory/. */
export interface ControlSink {
  /** A link to `peer` finished its handshake (opened by either side). */
  linkUp(peer: string): void
  /** The link to `peer` closed. */
  linkDown(peer: string): void
  /** A link (asked for by connect(), or by data) could not be opened; `refused`: definitely nobody there (not a timeout). */
  connectFailed(peer: string, refused: boolean): void
  /** A CONTROL frame's body from `peer`. */
  control(peer: string, body: Uint8Array): void
  /** Bytes arrived from `peer` (a sign of life, whatever they are). */
  heard(peer: string): void
  /** Discovery (mDNS, the DHT) saw a relay. */
  discovered(peer: string, addrs: string[]): void
  /** Where `peer` can be dialled (its directory entry). */
  addrsOf(peer: string): readonly string[]
  /** The control plane needs the link to `peer` kept (a neighbor, a probe): not closed when idle. */
  holds(peer: string): boolean
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
  control: ControlSink
  tunnels: TunnelSink
}
