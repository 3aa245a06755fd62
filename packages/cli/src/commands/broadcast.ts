import { Command } from 'commander'
import { withConnection, withPortOption } from '../util.js'

export function broadcastCommand(): Command {
  return withPortOption(new Command('broadcast'))
    .usage('CLUSTER PAYLOAD [--port N]')
    .description('Sends PAYLOAD to every member of CLUSTER (best effort, no reply).')
    .argument('<CLUSTER>')
    .argument('<PAYLOAD>')
    .action(async (cluster: string, payload: string, opts: { port: number }) => {
      await withConnection(opts.port, (c) => c.broadcast(cluster, payload))
    })
}
