/**
 * metrics/ — the relay in Prometheus terms. Every Herald metric is read at scrape time (a
 * prom-client `collect`) from counters the rooms keep in plain fields: nothing here runs per
 * message. Label sets are bounded: clusters and topics by the router's stats cap (the rest
 * count as "other"), peers by the link cap (maxLinks).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { LatencyHistogram, OTHER_NAME, OUTCOMES, type ClusterStats, type Outcome, type RequestOutcomes, type TopicStats } from '../routing/stats.js'
import type { RelayParts } from '../status.js'
import { labelValue, mergeRows } from './labels.js'
import { PlainHistogram } from './plain-histogram.js'

type Labels = Record<string, string>
type Rows = Iterable<[Labels, number]>

const OUTCOME_LABEL: Record<Outcome, string> = {
  ok: 'ok', remoteError: 'remote_error', timeout: 'timeout', noMembers: 'no_members', memberLost: 'member_lost', refused: 'refused',
}

export interface RelayMetricsInit {
  parts: RelayParts
  /** Also the process and Node.js metrics of prom-client (CPU, memory, event loop, GC); default true. */
  defaultMetrics?: boolean
}

/** A Prometheus registry with the relay's metrics (and, by default, the process's). */
export function createRelayMetrics(init: RelayMetricsInit): Registry {
  const registry = new Registry()
  if (init.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry })
    // Gauges named like counters (promtool check metrics flags them); the same figures remain
    // by type in nodejs_active_handles, nodejs_active_requests and nodejs_active_resources.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name)
  }
  const { router, clients, control, links } = init.parts
  const counter = (name: string, help: string, labelNames: string[], read: () => Rows): void => {
    new Counter({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset()
        for (const [labels, v] of read()) this.inc(labels, v)
      },
    })
  }
  const gauge = (name: string, help: string, labelNames: string[], read: () => Rows): void => {
    new Gauge({
      name, help, labelNames, registers: [registry],
      collect() {
        this.reset()
        for (const [labels, v] of read()) this.set(labels, v)
      },
    })
  }
  const one = (read: () => number) => (): Rows => [[{}, read()]]
  const clusters = (): Map<string, ClusterStats> => mergeRows(router.clusterStats.entries(), addClusterStats)
  const topics = (): Map<string, TopicStats> => mergeRows(router.topicStats.entries(), addTopicStats)
  // Local clusters and topics by the label their stats use (names past the cap: "other").
  const clusterLabel = (name: string): string => (router.clusterStats.has(name) ? name : OTHER_NAME)
  const topicLabel = (name: string): string => (router.topicStats.has(name) ? name : OTHER_NAME)

  // ---- clients ----
  gauge('herald_clients_connected', 'Local client connections open now.', [], one(() => clients.sessions.size))
  counter('herald_client_connections_total', 'Local client connections accepted.', [], one(() => clients.accepted))
  counter('herald_client_protocol_errors_total', 'Client connections closed for a protocol error (by the relay or reported by the client).', [], one(() => clients.protocolErrors))

  // ---- requests ----
  counter('herald_requests_total', 'Requests answered by this relay, by cluster, origin (client: a local client; relay: forwarded by another relay) and outcome.',
    ['cluster', 'origin', 'outcome'], function* () {
      for (const [cluster, s] of clusters()) {
        for (const [origin, o] of [['client', s.fromClients], ['relay', s.fromRelays]] as const) {
          if (total(o) === 0) continue
          for (const k of OUTCOMES) yield [{ cluster, origin, outcome: OUTCOME_LABEL[k] }, o[k]]
        }
      }
    })
  new PlainHistogram({
    name: 'herald_request_duration_seconds', help: 'Requests from local clients: time from arrival at this relay to the answer, by cluster.',
    labelName: 'cluster', registry,
    read: function* () {
      for (const [cluster, s] of clusters()) if (s.latency.count > 0) yield [cluster, s.latency]
    },
  })
  gauge('herald_requests_in_flight', 'Requests routed and not answered yet.', [], one(() => router.snapshot().inflight))
  gauge('herald_cluster_members', 'Local members of each cluster.', ['cluster'], () => byLabel('cluster', router.snapshot().clusters, (c) => clusterLabel(c.name), (c) => c.members))
  gauge('herald_requests_queued', 'Requests waiting at this relay for a member with room, by cluster.', ['cluster'], () => byLabel('cluster', router.snapshot().clusters, (c) => clusterLabel(c.name), (c) => c.queued))
  counter('herald_broadcasts_total', 'Broadcasts routed, by cluster.', ['cluster'], function* () {
    for (const [cluster, s] of clusters()) if (s.broadcasts > 0) yield [{ cluster }, s.broadcasts]
  })
  counter('herald_lookups_total', 'Requests that waited for a cluster to appear (or asked the DHT).', [], one(() => router.counters.lookups))

  // ---- events ----
  const topicCounter = (name: string, help: string, field: keyof TopicStats): void =>
    counter(name, help, ['topic'], function* () {
      for (const [topic, s] of topics()) if (s.published + s.received > 0) yield [{ topic }, s[field]]
    })
  topicCounter('herald_events_published_total', 'Events published by local clients, by topic.', 'published')
  topicCounter('herald_events_received_total', 'Events forwarded to this relay by other relays, by topic.', 'received')
  topicCounter('herald_events_delivered_total', 'Events handed to local subscribers, by topic.', 'delivered')
  topicCounter('herald_events_dropped_total', 'Events dropped for local subscribers that fell behind, by topic.', 'dropped')
  counter('herald_publisher_stalls_total', 'Times a local publisher was held off briefly (2 ms) because a local subscriber of its topic was behind.', [], one(() => router.counters.publisherStalls))
  gauge('herald_topic_subscribers', 'Local subscribers of each topic.', ['topic'], () => byLabel('topic', router.snapshot().topics, (t) => topicLabel(t.name), (t) => t.subscribers))

  // ---- tunnels ----
  gauge('herald_tunnels_open', 'Tunnels open through this relay now.', [], one(() => router.tunnelsOpen))
  counter('herald_tunnels_opened_total', 'Tunnels opened through this relay.', [], one(() => router.counters.tunnelsOpened))
  counter('herald_tunnel_bytes_total', 'Tunnel payload bytes relayed.', [], one(() => router.counters.tunnelBytes))

  // ---- the network ----
  gauge('herald_relays_known', 'Other relays in this relay\'s directory (alive or suspected).', [], one(() => control.view().length))
  gauge('herald_relays_linked', 'Other relays this relay has a peer link to now.', [], one(() => links.size))
  gauge('herald_relays_suspected', 'Relays this relay suspects now (a probe round is running).', [], one(() => control.view().filter((v) => v.suspected).length))
  gauge('herald_neighbors', 'Neighbors in the partial view (membership and failure detection run between them).', [], one(() => control.membership.neighborInfo().filter((n) => n.state === 'active').length))
  gauge('herald_directory_entries', 'Entries in the directory (every relay known, this one and dead ones not yet forgotten included).', [], one(() => control.membership.store.count))
  const perLink = (read: (l: ReturnType<typeof links.stats>[number]) => number) => (): Rows =>
    links.stats().map((l) => [{ peer: labelValue(l.nodeId) }, read(l)])
  counter('herald_link_sent_bytes_total', 'Bytes sent on the peer link to each relay (since the link opened).', ['peer'], perLink((l) => l.bytesOut))
  counter('herald_link_received_bytes_total', 'Bytes received on the peer link from each relay (since the link opened).', ['peer'], perLink((l) => l.bytesIn))
  counter('herald_link_dropped_total', 'Events and broadcasts dropped on the peer link to each relay (its backlog was full).', ['peer'], perLink((l) => l.dropped))
  gauge('herald_link_backlog_bytes', 'Bytes accepted for each relay and not sent yet.', ['peer'], perLink((l) => l.backlog))
  gauge('herald_link_rtt_seconds', 'Round trip to each neighbor, smoothed, from the failure detector\'s pings.', ['peer'], function* () {
    for (const n of control.membership.neighborInfo()) if (n.state === 'active' && n.srtt >= 0) yield [{ peer: labelValue(n.peer) }, n.srtt / 1000]
  })

  // ---- the control plane ----
  counter('herald_control_sent_bytes_total', 'Bytes of control traffic (membership, failure detection, directory) sent.', [], one(() => links.controlBytesOut))
  counter('herald_control_received_bytes_total', 'Bytes of control traffic received.', [], one(() => links.controlBytesIn))
  counter('herald_control_dropped_total', 'Control messages dropped for a peer that does not read.', [], one(() => links.controlDropped))
  counter('herald_control_rejected_total', 'Malformed or forged control messages from peers.', [], one(() => control.rejected))
  counter('herald_control_messages_sent_total', 'Control messages sent, by type.', ['type'], () =>
    [...control.membership.sentByType].map(([type, n]) => [{ type: labelValue(type) }, n]))
  const m = control.membership.stats
  counter('herald_suspicions_total', 'Suspicions this relay raised.', [], one(() => m.suspicionsRaised))
  counter('herald_false_suspicions_total', 'Suspicions this relay raised that ended with the suspect heard.', [], one(() => m.falseSuspicions))
  counter('herald_deaths_declared_total', 'Relays this relay declared dead.', [], one(() => m.deathsDeclared))
  counter('herald_refutations_total', 'Times this relay refuted a verdict that it was dead.', [], one(() => m.refutations))
  return registry
}

function total(o: RequestOutcomes): number {
  let n = 0
  for (const k of OUTCOMES) n += o[k]
  return n
}

/** Sums `value` by label (names past the cap share "other"; safe label values). */
function byLabel<T>(labelName: string, items: T[], label: (x: T) => string, value: (x: T) => number): Rows {
  const m = mergeRows(items.map((x): [string, number] => [label(x), value(x)]), (a, b) => a + b)
  return [...m].map(([k, v]) => [{ [labelName]: k }, v])
}

function addOutcomes(a: RequestOutcomes, b: RequestOutcomes): RequestOutcomes {
  const out = { ...a }
  for (const k of OUTCOMES) out[k] += b[k]
  return out
}

function addClusterStats(a: ClusterStats, b: ClusterStats): ClusterStats {
  const latency = new LatencyHistogram()
  latency.add(a.latency)
  latency.add(b.latency)
  return { fromClients: addOutcomes(a.fromClients, b.fromClients), fromRelays: addOutcomes(a.fromRelays, b.fromRelays), latency, broadcasts: a.broadcasts + b.broadcasts }
}

function addTopicStats(a: TopicStats, b: TopicStats): TopicStats {
  return { published: a.published + b.published, received: a.received + b.received, delivered: a.delivered + b.delivered, dropped: a.dropped + b.dropped }
}
