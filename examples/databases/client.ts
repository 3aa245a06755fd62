/**
 * Sends requests to the "databases" cluster — never to a host — and counts which member
 * answered each one. The relay balances them among the members.
 *
 *   npx tsx examples/databases/client.ts [--port 55555] [--requests 300] [--concurrency 16]
 *
 * Prints a small table, then one JSON line: {"answered":{"db-1":100,...}}
 */
import { parseArgs } from 'node:util'
import { connect, NoMembersError } from '@herald/client'

const { values } = parseArgs({
  options: { port: { type: 'string' }, requests: { type: 'string' }, concurrency: { type: 'string' } },
})
const port = Number(values.port ?? 55555)
const total = Number(values.requests ?? 300)
const concurrency = Number(values.concurrency ?? 16)

const conn = await connect({ port })
const answered: Record<string, number> = {}
const decoder = new TextDecoder()
let next = 0

// `concurrency` workers, each sending its next request as soon as the previous one is answered.
async function worker(): Promise<void> {
  while (next < total) {
    const i = next++
    const reply = await conn.request('databases', `query #${i}`, { timeoutMs: 5_000 })
    const member = decoder.decode(reply)
    answered[member] = (answered[member] ?? 0) + 1
  }
}

const started = performance.now()
try {
  await Promise.all(Array.from({ length: concurrency }, () => worker()))
} catch (err) {
  if (!(err instanceof NoMembersError)) throw err
  console.error('no member of "databases" is running: start some with `npx tsx examples/databases/member.ts db-1`')
  await conn.close()
  process.exit(1)
}
const ms = performance.now() - started
await conn.close()

const names = Object.keys(answered).sort()
console.log(`${total} requests in ${ms.toFixed(0)} ms, ${concurrency} at a time\n`)
console.log('member   answered')
console.log('-------  --------')
for (const n of names) console.log(`${n.padEnd(7)}  ${String(answered[n]).padStart(8)}`)
console.log()
console.log(JSON.stringify({ answered: Object.fromEntries(names.map((n) => [n, answered[n]])) }))
