import type { ControlPlane } from './directory/control-plane.js'
import type { RecentEvent } from './log.js'
import type { LinkManager, LinkStats } from './peers/link-manager.js'
import type { Router } from './routing/router.js'
import { LATENCY_BOUNDS_MS, LatencyHistogram, OUTCOMES } from './routing/stats.js'
import type { ClientServer } from './clients/client-server.js'

/** Another relay as this one's directory shows it. */
export interface PeerView {
  nodeId: string
  /** A link to it is open now (links open on demand and close when idle). */
  connected: boolean
  /** This relay suspects it (a probe round is running). */
  suspected: boolean
  addrs: string[]
  clusters: Record<string, { members: number }>
  topics: string[]
}

/** A neighbor of the partial view, as its failure detector sees it. */
export interface NeighborView {
  nodeId: string
  /** Round trip (ms) from the pings' echoes; -1 before the first. */
  rttMs: number
  /** How unlikely the current silence is (phi); above 8 it is suspected. */
  phi: number
  suspected: boolean
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
  neighbors: NeighborView[]
  links: Array<LinkStats & { neighbor: boolean; rttMs: number }>
  /** Latency of requests from local clients, all clusters: counts per bucket (the last: above every bound). */
  latency: { boundsMs: readonly number[]; counts: number[]; count: number; sumMs: number }
  /** The last warnings and errors this relay logged, oldest first. */
  recent: RecentEvent[]
}

/** The parts of a relay that status pages and metrics read (never write). */
export interface RelayParts {
  router: Router
  clients: ClientServer
  control: ControlPlane
  links: LinkManager
}

export interface StatusParts extends RelayParts {
  nodeId: string
  network: string
  addrs: string[]
  uptimeMs: number
  recent: RecentEvent[]
}

export function relayStatus(p: StatusParts): RelayStatus {
  const snap = p.router.snapshot()
  const m = p.control.membership
  const neighbors = m.neighborInfo().filter((n) => n.state === 'active')
  const rtt = new Map(neighbors.map((n) => [n.peer, n.srtt]))
  const latency = new LatencyHistogram()
  let requestsFromClients = 0
  for (const [, c] of p.router.clusterStats.entries()) {
    latency.add(c.latency)
    for (const k of OUTCOMES) requestsFromClients += c.fromClients[k]
  }
  let publishedByClients = 0
  for (const [, t] of p.router.topicStats.entries()) publishedByClients += t.published
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
      ...snap.counters, inflight: snap.inflight, requestsFromClients, publishedByClients, tunnelsOpen: p.router.tunnelsOpen,
      controlSent: sum(m.sentByType.values()), controlReceived: m.stats.received, rejectedControl: p.control.rejected,
      suspicions: m.stats.suspicionsRaised, falseSuspicions: m.stats.falseSuspicions, refutations: m.stats.refutations,
      deathsDeclared: m.stats.deathsDeclared, controlBytesOut: p.links.controlBytesOut, controlBytesIn: p.links.controlBytesIn, controlDropped: p.links.controlDropped, linksIdleClosed: p.links.idleClosed, linksEvicted: p.links.evicted,
    },
    peers: p.control.view().map(({ node, data, suspected }) => ({
      nodeId: node, connected: p.links.has(node), suspected, addrs: [...data.addrs],
      clusters: Object.fromEntries([...data.clusters].map(([name, members]) => [name, { members }])), topics: [...data.topics],
    })),
    neighbors: neighbors.map((n) => ({ nodeId: n.peer, rttMs: Math.round(n.srtt * 10) / 10, phi: Math.round(n.phi * 100) / 100, suspected: n.suspected })),
    links: p.links.stats().map((l) => ({ ...l, neighbor: rtt.has(l.nodeId), rttMs: Math.round((rtt.get(l.nodeId) ?? -1) * 10) / 10 })),
    latency: { boundsMs: LATENCY_BOUNDS_MS, counts: [...latency.counts], count: latency.count, sumMs: latency.sumMs },
    recent: p.recent,
  }
}

function sum(xs: Iterable<number>): number {
  let s = 0
  for (const x of xs) s += x
  return s
}
