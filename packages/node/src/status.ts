import type { Directory } from './directory/directory.js'
import type { Gossip } from './directory/gossip.js'
import type { LinkManager, LinkStats } from './peers/link-manager.js'
import type { Router } from './routing/router.js'
import type { ClientServer } from './clients/client-server.js'

/** Another relay as this one's directory shows it. */
export interface PeerView {
  nodeId: string
  connected: boolean
  addrs: string[]
  clusters: Record<string, { members: number; load: number }>
  topics: string[]
}

/** What `herald status` shows: the answer to a request to "$herald.status". */
export interface RelayStatus {
  nodeId: string
  network: string
  port: number
  addrs: string[]
  uptimeMs: number
  clients: number
  acceptedConnections: number
  protocolErrors: number
  rssBytes: number
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: Record<string, number>
  peers: PeerView[]
  links: LinkStats[]
}

export interface StatusParts {
  nodeId: string
  network: string
  addrs: string[]
  uptimeMs: number
  router: Router
  clients: ClientServer
  directory: Directory
  gossip: Gossip
  links: LinkManager
}

export function relayStatus(p: StatusParts): RelayStatus {
  const snap = p.router.snapshot()
  return {
    nodeId: p.nodeId,
    network: p.network,
    port: p.clients.port,
    addrs: p.addrs,
    uptimeMs: p.uptimeMs,
    clients: p.clients.sessions.size,
    acceptedConnections: p.clients.accepted,
    protocolErrors: p.clients.protocolErrors,
    rssBytes: process.memoryUsage.rss(),
    clusters: snap.clusters,
    topics: snap.topics,
    counters: {
      ...snap.counters, inflight: snap.inflight,
      gossipSent: p.gossip.sent, gossipReceived: p.gossip.received, rejectedEntries: p.gossip.rejectedEntries,
    },
    peers: p.directory.alive().filter((e) => e.node !== p.nodeId).map((e) => ({
      nodeId: e.node, connected: p.links.has(e.node), addrs: e.addrs, clusters: e.clusters, topics: e.topics,
    })),
    links: p.links.stats(),
  }
}
