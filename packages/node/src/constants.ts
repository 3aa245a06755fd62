/** Defaults of the relay node. RelayInit / CLI flags override each of them. */
export const DEFAULT_CLIENT_PORT = 55555
export const DEFAULT_CLIENT_HOST = '127.0.0.1'
export const DEFAULT_NETWORK = 'herald'
/** A client must complete the handshake within this time. */
export const HANDSHAKE_TIMEOUT_MS = 5_000
/** A partial frame that does not complete within this time closes the connection (slow loris). */
export const DEFAULT_STALL_TIMEOUT_MS = 10_000
/** How often sessions are checked for stalls and unread output. */
export const HOUSEKEEPING_INTERVAL_MS = 250
/** Above this many bytes waiting for a client's socket, events are queued per subscription (and dropped past its limit). */
export const SOCKET_HIGH_WATER = 1024 * 1024
/** A client that leaves more than this unread in its socket is disconnected. */
export const MAX_UNREAD_BYTES = 128 * 1024 * 1024
/** Per-connection limits. */
export const MAX_PENDING_REQUESTS_PER_CONNECTION = 65_536
export const MAX_SUBSCRIPTIONS_PER_CONNECTION = 4_096
export const MAX_TUNNELS_PER_CONNECTION = 1_024
export const MAX_REGISTRATIONS_PER_CONNECTION = 64
/** Requests waiting for a free member slot, per cluster. */
export const MAX_QUEUED_REQUESTS_PER_CLUSTER = 100_000
export const MAX_QUEUED_REQUEST_BYTES_PER_CLUSTER = 256 * 1024 * 1024
/** Extra allowance charged per tunnel message (must match the SDK). */
export const TUNNEL_MESSAGE_COST = 64
/** On shutdown, members get this long to answer in-flight requests. */
export const SHUTDOWN_GRACE_MS = 2_000
/** Cluster names starting with this are the relay's own services (e.g. "$herald.status"). */
export const SYSTEM_PREFIX = '$herald.'
/** Bytes a peer link may hold unsent before events/broadcasts to that relay are dropped. */
export const MAX_LINK_BACKLOG_BYTES = 16 * 1024 * 1024
/** Past this many unsent bytes on a peer link, local publishers are paused until it drains. */
export const LINK_HIGH_WATER_BYTES = 2 * 1024 * 1024
/** Directory heartbeat: each relay refreshes its entry this often. */
export const HEARTBEAT_MS = 1_000
/** An entry not refreshed for this long leaves the view (about two missed heartbeats). */
export const ENTRY_EXPIRY_MS = 2_500
/** Anti-entropy: a digest goes to one random peer this often. */
export const ANTI_ENTROPY_MS = 2_000
export const TOMBSTONE_MS = 60_000
/** Overlay protocol ids are per network, so networks never mix streams. */
export const PROTOCOL_PREFIX = '/herald'
/** Directory gossip is cut into frames of about this size. */
export const DIRECTORY_FRAME_BYTES = 256 * 1024
/** Relays a directory holds at most; entries for more are rejected (a flood of forged nodes). */
export const MAX_DIRECTORY_NODES = 4096
/** Peer links and tunnel streams accept frames up to at least this size, whatever --max-message says. */
export const MIN_PEER_FRAME_BYTES = 16 * 1024 * 1024 + 1024
/** A tunnel stream whose partial frame stalls this long is cut. */
export const TUNNEL_STREAM_STALL_MS = 10_000
/** Bytes of partial frames all clients together may hold; past it the largest is cut. */
export const MAX_PARTIAL_FRAME_BYTES = 512 * 1024 * 1024
