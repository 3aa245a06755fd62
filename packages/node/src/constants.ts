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
  /** How long a request to an unknown cluster may wait for a DHT lookup; how many requests may wait for a cluster to (re)appear at once. */
  lookupTimeoutMs: number
  maxLookups: number
  /**
   * Clusters and topics counted under their own name (metrics, status); past this many, new
   * names are counted together as "other". Bounds the memory and the metrics' label sets.
   */
  maxStatsClusters: number
  maxStatsTopics: number
  // ---- directory/ -------------------------------------------------------------------------
  /** Relays a directory holds at most; entries for more are rejected (a flood of forged nodes). */
  maxDirectoryNodes: number
  /** How long a DHT lookup that found nothing is remembered. */
  notFoundCacheMs: number
  /**
   * A request for a cluster that no relay serves, but one did less than this long ago, waits
   * (within its own timeout) for it to come back instead of failing at once with NoMembers.
   */
  recentlyServedMs: number
  // ---- peers/ -----------------------------------------------------------------------------
  /** Bytes a peer link may hold unsent before events/broadcasts to that relay are dropped. */
  maxLinkBacklogBytes: number
  /** Past this many unsent bytes on a peer link, local publishers are paused until it drains. */
  linkHighWaterBytes: number
  /** The higher peer id waits this long for the lower one to open the link before opening it itself. */
  linkOpenWaitMs: number
  /** Opening a link (dial and handshake) gives up after this long. */
  linkConnectTimeoutMs: number
  /** A link nothing holds (not a neighbor, no tunnel) that carried no data this long is closed. */
  linkIdleMs: number
  /** Links kept at most; past it the least recently used idle one is closed. */
  maxLinks: number
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
  maxLookups: 10_000,
  maxStatsClusters: 200,
  maxStatsTopics: 200,
  maxDirectoryNodes: 16_384,
  notFoundCacheMs: 5_000,
  recentlyServedMs: 30_000,
  maxLinkBacklogBytes: 16 * 1024 * 1024,
  linkHighWaterBytes: 2 * 1024 * 1024,
  linkOpenWaitMs: 1_500,
  linkConnectTimeoutMs: 10_000,
  linkIdleMs: 30_000,
  maxLinks: 256,
  tunnelStreamStallMs: 10_000,
})
