/**
 * Defaults of the relay. Logic never reads these directly: RelayInit (and the CLI flags)
 * override them, and each part gets the resulting `RelayLimits` object. Protocol facts
 * (frame sizes, id ranges, protocol ids) live in @herald/wire instead.
 */

export const DEFAULT_CLIENT_HOST = '127.0.0.1'
export const DEFAULT_NETWORK = 'herald'

export interface RelayLimits {
  // ---- clients/ ---------------------------------------------------------------------------
  /** A client must complete the handshake within this time. */
  handshakeTimeoutMs: number
  /** A partial frame that does not complete within this time closes the connection (slow loris). */
  stallTimeoutMs: number
  /** How often sessions are checked for stalls and unread output. */
  housekeepingIntervalMs: number
  /** Above this many bytes waiting for a client's socket, events are queued per subscription (and dropped past its limit). */
  clientHighWaterBytes: number
  /** A client that leaves more than this unread in its socket is disconnected. */
  maxUnreadBytes: number
  /** Bytes of partial frames all clients together may hold; past it the largest is cut. */
  maxPartialFrameBytes: number
  /** Per client connection: requests pending, subscriptions, tunnels, registrations. */
  maxPendingRequestsPerClient: number
  maxSubscriptionsPerClient: number
  maxTunnelsPerClient: number
  maxRegistrationsPerClient: number
  /** After an ERROR or a goodbye, the socket is destroyed if the client has not closed it by then. */
  closeLingerMs: number
  /** On shutdown, how long the client listeners may take to close before the relay goes on stopping. */
  listenerCloseWaitMs: number
  // ---- routing/ ---------------------------------------------------------------------------
  /** Requests waiting at the relay for a free member slot, per cluster (count and bytes). */
  maxQueuedRequestsPerCluster: number
  maxQueuedRequestBytesPerCluster: number
  /** On shutdown, members get this long to answer in-flight requests. */
  shutdownGraceMs: number
  /** How long a request to an unknown cluster may wait for a DHT lookup, and how many may wait at once. */
  lookupTimeoutMs: number
  maxLookups: number
  // ---- directory/ -------------------------------------------------------------------------
  /** Directory heartbeat: each relay refreshes its entry this often. */
  heartbeatMs: number
  /** An entry not refreshed for this long leaves the view (about two missed heartbeats). */
  entryExpiryMs: number
  /** Anti-entropy: a digest goes to one random peer this often. */
  antiEntropyMs: number
  /** Tombstones, and entries not refreshed, are forgotten after this long. */
  tombstoneMs: number
  /** Relays a directory holds at most; entries for more are rejected (a flood of forged nodes). */
  maxDirectoryNodes: number
  /** How long a DHT lookup that found nothing is remembered. */
  notFoundCacheMs: number
  // ---- peers/ -----------------------------------------------------------------------------
  /** Bytes a peer link may hold unsent before events/broadcasts to that relay are dropped. */
  maxLinkBacklogBytes: number
  /** Past this many unsent bytes on a peer link, local publishers are paused until it drains. */
  linkHighWaterBytes: number
  /** The higher peer id waits this long for the lower one to open the link before opening it itself. */
  linkOpenWaitMs: number
  /** A relay is dialled at most once per this interval (directory entries, discovery). */
  dialIntervalMs: number
  /** Bootstrap relays we have no connection to are redialled, backing off from the first to the second. */
  bootstrapRedialMs: readonly [min: number, max: number]
  /** Opening a tunnel stream to another relay gives up after this long. */
  tunnelOpenTimeoutMs: number
  /** A tunnel stream whose partial frame stalls this long is cut. */
  tunnelStreamStallMs: number
}

export const DEFAULT_LIMITS: Readonly<RelayLimits> = Object.freeze<RelayLimits>({
  handshakeTimeoutMs: 5_000,
  stallTimeoutMs: 10_000,
  housekeepingIntervalMs: 250,
  clientHighWaterBytes: 1024 * 1024,
  maxUnreadBytes: 128 * 1024 * 1024,
  maxPartialFrameBytes: 512 * 1024 * 1024,
  maxPendingRequestsPerClient: 65_536,
  maxSubscriptionsPerClient: 4_096,
  maxTunnelsPerClient: 1_024,
  maxRegistrationsPerClient: 64,
  closeLingerMs: 1_000,
  listenerCloseWaitMs: 1_500,
  maxQueuedRequestsPerCluster: 100_000,
  maxQueuedRequestBytesPerCluster: 256 * 1024 * 1024,
  shutdownGraceMs: 2_000,
  lookupTimeoutMs: 500,
  maxLookups: 256,
  heartbeatMs: 1_000,
  entryExpiryMs: 2_500,
  antiEntropyMs: 2_000,
  tombstoneMs: 60_000,
  maxDirectoryNodes: 4096,
  notFoundCacheMs: 5_000,
  maxLinkBacklogBytes: 16 * 1024 * 1024,
  linkHighWaterBytes: 2 * 1024 * 1024,
  linkOpenWaitMs: 1_500,
  dialIntervalMs: 3_000,
  bootstrapRedialMs: [1_000, 30_000],
  tunnelOpenTimeoutMs: 10_000,
  tunnelStreamStallMs: 10_000,
})
