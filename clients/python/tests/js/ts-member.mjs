// A TypeScript SDK member for the Python cross-language tests:
//   node ts-member.mjs PORT CLUSTER [KEY[,KEY...]]
// Answers "ts:" + the request, echoes every tunnel message; prints "ready" once registered.
import { register } from '@herald/client'

const [port, cluster, keys] = process.argv.slice(2)
await register({
  port: Number(port),
  cluster,
  ...(keys ? { key: keys.split(',') } : {}),
  handler: {
    handleRequest: (req) => Buffer.concat([Buffer.from('ts:'), req]),
    async handleTunnel(tun) {
      for await (const m of tun) await tun.send(m)
    },
  },
})
console.log('ready')
