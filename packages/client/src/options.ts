import type { HeraldError } from './errors.js'
import { keyRing, type ClusterKeys, type KeyRing } from './keys.js'
import type { RelaySocket } from './transport.js'

export interface ConnectOptions {
  /** Relay host (default 127.0.0.1). */
  host?: string
  /** Relay client port (default 55555). */
  port?: number
  /** Connect to the relay's Unix socket instead of TCP. */
  socketPath?: string
  /** An already connected socket instead of TCP: e.g. `relay.connectInProcess()` of a relay in this process. */
  socket?: RelaySocket
  /** How long to wait for the relay's handshake (default 5000 ms). */
  timeoutMs?: number
  /** Called once if the relay connection is lost (not after close()). */
  onDrop?: (reason: HeraldError) => void
  /** End-to-end keys per cluster: requests, replies, broadcasts and tunnels are sealed. */
  clusterKeys?: Record<string, ClusterKeys>
  /** End-to-end keys per topic: events are sealed. */
  topicKeys?: Record<string, ClusterKeys>
}

/** Parses keys by name (a bad key throws here, before any connection exists). */
export function rings(keys: Record<string, ClusterKeys> | undefined): Map<string, KeyRing> {
  const m = new Map<string, KeyRing>()
  for (const [name, k] of Object.entries(keys ?? {})) m.set(name, keyRing(k))
  return m
}

