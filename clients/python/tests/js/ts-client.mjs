// A TypeScript SDK client for the Python cross-language tests:
//   node ts-client.mjs PORT CLUSTER PAYLOAD [KEY]
// Prints one JSON line: {"reply": "..."} or {"error": CODE, "message": "..."}.
import { connect, HeraldError } from '@herald/client'

const [port, cluster, payload, key] = process.argv.slice(2)
const conn = await connect({ port: Number(port), ...(key ? { clusterKeys: { [cluster]: key } } : {}) })
try {
  const reply = await conn.request(cluster, payload, { timeoutMs: 5000 })
  console.log(JSON.stringify({ reply: Buffer.from(reply).toString('utf8') }))
} catch (err) {
  if (!(err instanceof HeraldError)) throw err
  console.log(JSON.stringify({ error: err.code, message: err.message }))
} finally {
  await conn.close()
}
