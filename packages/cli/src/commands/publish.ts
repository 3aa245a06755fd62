import { Command } from 'commander'
import { withConnection, withPortOption } from '../util.js'

export function publishCommand(): Command {
  return withPortOption(new Command('publish'))
    .usage('TOPIC PAYLOAD [--port N]')
    .description('Publishes PAYLOAD as one event on TOPIC (best effort, at most once).')
    .argument('<TOPIC>')
    .argument('<PAYLOAD>')
    .action(async (topic: string, payload: string, opts: { port: number }) => {
      await withConnection(opts.port, (c) => c.publish(topic, payload))
    })
}
