// libp2p needs Promise.withResolvers, which Node 20 lacks: before anything else.
import './polyfill.js'

export { Relay, createRelay, startRelay, libp2pOverlay, type RelayInit, type RelayComponents } from './relay.js'
export type { RelayStatus, PeerView } from './status.js'
export { DEFAULT_LIMITS, DEFAULT_NETWORK, DEFAULT_CLIENT_HOST, type RelayLimits } from './constants.js'
export { systemClock, ManualClock, type Clock, type Timer } from './clock.js'
export type { ByteStream, ByteStreamEvents, Overlay, OverlayEvents, Provider, StreamKind } from './overlay/overlay.js'
export { MemoryNetwork, MemoryOverlay, type MemoryNetworkInit } from './overlay/memory.js'
export { MemorySocket } from './clients/memory-socket.js'
export { KeyFileError, KEY_FILE_HEADER, devNetworkKey, newNetworkKeyText, readNetworkKeyFile, writeNetworkKeyFile } from './overlay/network-key.js'
export { Router, type RouterInit, type RouterSnapshot } from './routing/router.js'
export type { Endpoint, EndpointKind, ClientEndpoint, Outlet, Ack } from './routing/endpoint.js'
export type { RouterCounters } from './routing/state.js'
export { lineLogger, silentLogger, stderrLogger, isLogLevel, formatLine, type Logger, type LogFields, type LogFn, type LogLevel, type RecentEvent } from './log.js'
export { HttpListenError, parseHostPort } from './http-server.js'
// createRelayMetrics (prom-client): import from '@herald/node/metrics', so that a relay without
// --metrics never loads it.
export type { RelayMetricsInit } from './metrics/relay-metrics.js'
export { labelValue, MAX_LABEL_LENGTH } from './metrics/labels.js'
export { LATENCY_BOUNDS_MS, OTHER_NAME, type ClusterStats, type TopicStats, type RequestOutcomes } from './routing/stats.js'
export type { NetworkSnapshot, RelayView, LinkView, Failure, Point } from './dashboard/snapshot.js'
export type { NeighborView, RelayParts } from './status.js'
