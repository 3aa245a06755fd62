import type { RelayStatus } from '@herald/node'

const MiB = 1048576

function bytes(n: number): string {
  if (n >= MiB) return `${(n / MiB).toFixed(1)} MiB`
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`
  return `${n} B`
}

function rtt(ms: number): string {
  return ms < 0 ? 'rtt -' : `rtt ${ms.toFixed(1)} ms`
}

function clock(t: number): string {
  return new Date(t).toISOString().slice(11, 19)
}

/** `herald status` for people: the relay, its peers and links (RTT, backlog), what it suspects, clusters, topics, recent warnings, counters. */
export function formatStatus(s: RelayStatus): string {
  const suspects = s.peers.filter((p) => p.suspected)
  const neighborOf = new Map(s.neighbors.map((n) => [n.nodeId, n]))
  const lines = [
    `relay     ${s.nodeId}  network "${s.network}"  port ${s.port}  up ${(s.uptimeMs / 1000).toFixed(0)} s  rss ${(s.rssBytes / MiB).toFixed(1)} MiB`,
    `clients   ${s.clients} connected (${s.acceptedConnections} accepted, ${s.protocolErrors} closed for errors)`,
    `addrs     ${s.addrs.join(' ')}`,
    `peers     ${s.peers.length === 0 ? '(none)' : ''}`,
    ...s.peers.map((p) => `  ${p.nodeId}${p.connected ? '' : ' (not linked)'}${p.suspected ? ' SUSPECTED' : ''}: clusters ${Object.entries(p.clusters).map(([n, c]) => `${n}(${c.members})`).join(' ') || '-'}; topics ${p.topics.join(' ') || '-'}`),
    `links     ${s.links.length === 0 ? '(none)' : ''}`,
    ...s.links.map((l) => {
      const n = neighborOf.get(l.nodeId)
      return `  ${l.nodeId}  ${rtt(l.rttMs)}  backlog ${bytes(l.backlog)}  sent ${bytes(l.bytesOut)}  received ${bytes(l.bytesIn)}  dropped ${l.dropped}` +
        (n !== undefined ? `  neighbor (phi ${n.phi.toFixed(2)})` : '')
    }),
    `suspects  ${suspects.length === 0 ? '(none)' : suspects.map((p) => p.nodeId).join(' ')}`,
    `clusters  ${s.clusters.length === 0 ? '(none)' : ''}`,
    ...s.clusters.map((c) => `  ${c.name}: ${c.members} local member(s), ${c.outstanding} in flight, ${c.queued} queued`),
    `topics    ${s.topics.length === 0 ? '(none)' : ''}`,
    ...s.topics.map((t) => `  ${t.name}: ${t.subscribers} subscriber(s), ${t.dropped} dropped`),
    `recent    ${(s.recent ?? []).length === 0 ? '(no warnings)' : ''}`,
    ...(s.recent ?? []).slice(-10).map((e) => `  ${clock(e.t)} ${e.level} ${e.event}: ${e.msg}`),
    'counters',
    ...Object.entries(s.counters).map(([k, v]) => `  ${k.padEnd(20)} ${v}`),
  ]
  return lines.join('\n') + '\n'
}
