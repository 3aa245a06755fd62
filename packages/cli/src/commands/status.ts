import { Command } from 'commander'
import type { RelayStatus } from '@herald/node'
import { STATUS_CLUSTER } from '@herald/wire'
import { formatStatus } from '../status-format.js'
import { withConnection, withPortOption, writeOut } from '../util.js'

export function statusCommand(): Command {
  return withPortOption(new Command('status'))
    .usage('[--relay ID] [--json] [--port N]')
    .description(`Shows the relay: clients, peers (the directory: other relays with
their clusters and topics), links to other relays (round trip, backlog,
bytes), the relays it suspects, local clusters and topics, recent warnings,
counters. With --relay, another relay's status, asked through this one.`)
    .option('--relay <ID>', "another relay's status (its peer id, as this relay's peers list shows it)")
    .option('--json', 'print the status as one line of JSON')
    .action(async (opts: { port: number; json?: boolean; relay?: string }) => {
      const reply = await withConnection(opts.port, (c) => c.request(STATUS_CLUSTER, opts.relay ?? '', { timeoutMs: 5000 }))
      const s = JSON.parse(Buffer.from(reply).toString('utf8')) as RelayStatus
      await writeOut(opts.json === true ? JSON.stringify(s) + '\n' : formatStatus(s))
    })
}
