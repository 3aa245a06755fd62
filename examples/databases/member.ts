/**
 * One member of the "databases" cluster. It answers every request with its own name, after a
 * short pause that stands in for real work (so several members share the load).
 *
 *   npx tsx examples/databases/member.ts db-1 [--port 55555] [--delay-ms 5]
 *
 * Prints `ready <name>` once registered; SIGINT/SIGTERM leaves the cluster and exits 0.
 */
import { parseArgs } from 'node:util'
import { register } from '@herald/client'

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { port: { type: 'string' }, 'delay-ms': { type: 'string' } },
})
const name = positionals[0]
if (name === undefined) {
  console.error('usage: member.ts NAME [--port N] [--delay-ms MS]')
  process.exit(2)
}
const port = Number(values.port ?? 55555)
const delayMs = Number(values['delay-ms'] ?? 5)

let answered = 0
const svc = await register({
  port,
  cluster: 'databases',
  handler: {
    async handleRequest(_request) {
      await new Promise((resolve) => setTimeout(resolve, delayMs))
      answered++
      return name
    },
    handleDrop(reason) {
      console.error(`${name}: lost the relay: ${reason.message}`)
      process.exit(1)
    },
  },
})
console.log(`ready ${name}`)

const stop = (): void => {
  console.error(`${name}: answered ${answered} requests, leaving`)
  svc.close().then(() => process.exit(0), () => process.exit(1))
}
process.once('SIGINT', stop)
process.once('SIGTERM', stop)
