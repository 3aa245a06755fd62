import { Command } from 'commander'
import { integer, readStdin, withConnection, withPortOption, writeOut } from '../util.js'

export function requestCommand(): Command {
  return withPortOption(new Command('request'))
    .usage('CLUSTER [PAYLOAD] [--timeout MS] [--port N]')
    .description(`Sends one request to a member of CLUSTER and writes the reply's bytes to stdout.
The payload is PAYLOAD, or stdin when PAYLOAD is omitted.`)
    .argument('<CLUSTER>')
    .argument('[PAYLOAD]')
    .option('-t, --timeout <MS>', 'give up after MS milliseconds', integer('timeout', 1), 10_000)
    .action(async (cluster: string, payload: string | undefined, opts: { port: number; timeout: number }) => {
      const body = payload ?? (await readStdin())
      const reply = await withConnection(opts.port, (c) => c.request(cluster, body, { timeoutMs: opts.timeout }))
      await writeOut(reply)
    })
}
