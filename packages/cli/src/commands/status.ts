import { Command } from 'commander'
import type { RelayStatus } from '@herald/node'
import { STATUS_CLUSTER } from '@herald/wire'
import { withConnection, withPortOption, writeOut } from '../util.js'

export function statusCommand(): Command {
  return withPortOption(new Command('status'))
    .usage('[--json] [--port N]')
    .description('Shows the relay: clients, peers (the directory: other relays with their clusters and topics), local clusters and topics, counters.')
    .option('--json', 'print the status as one line of JSON')
    .action(async (opts: { port: number; json?: boolean }) => {
      const reply = await withConnection(opts.port, (c) => c.request(STATUS_CLUSTER, '', { timeoutMs: 5000 }))
      const s = JSON.parse(Buffer.from(reply).toString('utf8')) as RelayStatus
      await writeOut(opts.json === true ? JSON.stringify(s) + '\n' : formatStatus(s))
    })
}

function formatStatus(s: RelayStatus): string {
  const lines = [
    `relay     ${s.nodeId}  network "${s.network}"  port ${s.port}  up ${(s.uptimeMs / 1000).toFixed(0)} s  rss ${(s.rssBytes / 1048576).toFixed(1)} MiB`,
    `clients   ${s.clients} connected (${s.acceptedConnections} accepted, ${s.protocolErrors} closed for errors)`,
    `addrs     ${s.addrs.join(' ')}`,
    `peers     ${s.peers.length === 0 ? '(none)' : ''}`,
    ...s.peers.map((p) => `  ${p.nodeId}${p.connected ? '' : ' (not linked)'}: clusters ${Object.entries(p.clusters).map(([n, c]) => `${n}(${c.members})`).join(' ') || '-'}; topics ${p.topics.join(' ') || '-'}`),
    `clusters  ${s.clusters.length === 0 ? '(none)' : ''}`,
    ...s.clusters.map((c) => `  ${c.name}: ${c.members} local member(s), ${c.outstanding} in flight, ${c.queued} queued`),
    `topics    ${s.topics.length === 0 ? '(none)' : ''}`,
    ...s.topics.map((t) => `  ${t.name}: ${t.subscribers} subscriber(s), ${t.dropped} dropped`),
    'counters',
    ...Object.entries(s.counters).map(([k, v]) => `  ${k.padEnd(16)} ${v}`),
  ]
  return lines.join('\n') + '\n'
}
