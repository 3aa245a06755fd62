/**
 * Protocol facts: every number or name both ends of a connection must agree on is defined
 * here, once, and imported everywhere else (docs/protocol.md specifies each of them).
 */

/** The four bytes every client connection starts with: "HRLD". */
export const MAGIC = new Uint8Array([0x48, 0x52, 0x4c, 0x44])
/** The protocol version this codec speaks. A relay refuses any other. */
export const PROTOCOL_VERSION = 1

/** Bytes of the frame header: a u32 length (of type + body) and a u8 type. */
export const FRAME_HEADER_BYTES = 5
/** The largest cluster or topic name, in UTF-8 bytes (its length is a u8 on the wire). */
export const MAX_NAME_BYTES = 255
/** The largest error message or close reason, in UTF-8 bytes. Longer texts are cut. */
export const MAX_TEXT_BYTES = 1024
/** The largest message payload unless configured otherwise: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
/** Room for a frame's fixed fields and names on top of its payload. */
export const FRAME_OVERHEAD_BYTES = 1024
/** The largest frame a decoder accepts by default. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES
/** Client roles announced in the handshake. */
export const Role = { client: 0, member: 1 } as const
export type Role = (typeof Role)[keyof typeof Role]

/** The loopback port a relay serves clients on unless told otherwise. */
export const DEFAULT_CLIENT_PORT = 55555

/** Cluster and topic names starting with this are reserved (a member may not register one). */
export const RESERVED_NAME_PREFIX = '$'
/** Clusters served by the relay itself start with this. */
export const SYSTEM_PREFIX = '$herald.'
/** The relay's status, as JSON: a request to this cluster is answered by the local relay. */
export const STATUS_CLUSTER = `${SYSTEM_PREFIX}status`

/**
 * Request and tunnel ids an opener chooses are at most this (below 2^31); the relay numbers
 * the tunnels it hands to a member from SERVED_TUNNEL_BASE up, so a connection that both opens
 * and serves tunnels never sees the two kinds collide.
 */
export const MAX_OPENER_ID = 0x7fffffff
export const SERVED_TUNNEL_BASE = 0x80000000
/** The tunnel id used on a relay-to-relay tunnel stream (one tunnel per stream). */
export const STREAM_TUNNEL_ID = 1

/** Extra allowance charged per tunnel message, so empty messages are flow-controlled too. */
export const TUNNEL_MESSAGE_COST = 64
/** What a tunnel message costs against the receiver's allowance. */
export function tunnelCost(payloadBytes: number): number {
  return payloadBytes + TUNNEL_MESSAGE_COST
}

/**
 * timeoutMs fields are u32, but setTimeout fires after 1 ms for delays above 2^31-1 ms (about
 * 24.8 days): every wait on a wire deadline is capped here.
 */
export const MAX_TIMER_MS = 0x7fffffff

// ---- relay <-> relay ---------------------------------------------------------------------

/** Peer links and tunnel streams accept frames of at least this size, whatever a relay's own message limit. */
export const MIN_PEER_FRAME_BYTES = DEFAULT_MAX_FRAME_BYTES
/** Directory gossip is cut into DIRECTORY frames of about this many bytes of entries. */
export const DIRECTORY_FRAME_BYTES = 256 * 1024
/** A DIRECTORY frame holds at most this many entries (more: the peer is disconnected). */
export const MAX_DIRECTORY_FRAME_ENTRIES = 10_000
/** Bounds of one directory entry: addresses (each shorter than MAX_ENTRY_ADDR_CHARS), clusters, topics. */
export const MAX_ENTRY_ADDRS = 64
export const MAX_ENTRY_ADDR_CHARS = 512
export const MAX_ENTRY_ITEMS = 10_000
/** An entry's version may be at most this far ahead of the receiver's clock (ms, × 1000 in the version). */
export const MAX_VERSION_AHEAD_MS = 24 * 3600_000

/** What a relay-to-relay protocol id names: the peer link, tunnel streams, the private DHT. */
export type OverlayProtocol = 'link' | 'tunnel' | 'kad'

/** Overlay protocol ids are per network, so networks never mix streams: /herald/<network>/<what>/1.0.0. */
export function overlayProtocolId(network: string, what: OverlayProtocol): string {
  return `/herald/${encodeURIComponent(network)}/${what}/1.0.0`
}

/** The mDNS service tag of a network (relays of other networks do not see each other). */
export function mdnsServiceTag(network: string): string {
  return `_herald-${encodeURIComponent(network)}._udp.local`
}
