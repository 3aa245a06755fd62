import { Command } from 'commander'
import { connect } from '@herald/client'
import { integer, withPortOption, writeOut } from '../util.js'

export function subscribeCommand(): Command {
  return withPortOption(new Command('subscribe'))
    .usage('TOPIC [--count N] [--port N]')
    .description(`Prints one line per event of TOPIC (the payload as UTF-8) until Ctrl-C, or until
--count events arrived. Says "subscribed" on stderr once the subscription is in place.`)
    .argument('<TOPIC>')
    .option('-n, --count <N>', 'exit after N events', integer('count', 1))
    .action(async (topic: string, opts: { port: number; count?: number }) => {
      const conn = await connect({ port: opts.port })
      const sub = await conn.subscribe(topic)
      process.stderr.write(`herald: subscribed to "${topic}"\n`)
      process.once('SIGINT', () => { void conn.close() })
      let n = 0
      for await (const ev of sub) {
        await writeOut(Buffer.concat([ev, Buffer.from('\n')]))
        if (opts.count !== undefined && ++n >= opts.count) break
      }
      await conn.close()
    })
}
