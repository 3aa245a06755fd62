/**
 * Reproduction (not a test): under CPU load, libp2p's connection monitor aborts healthy
 * relay-to-relay connections, because the overlay sets its ping timeout to 500-2000 ms
 * (packages/node/src/overlay.ts, connectionMonitor.pingTimeout). Every tunnel on the
 * connection then fails with MemberLostError, in-flight requests fail, and when kad-dht has
 * dropped the peer too, nothing redials it: two relays can stay apart for good ("NO PAIR").
 *
 *   npx tsx test/overlay-repro-monitor.ts [ROUNDS=5] [HOGS=4]
 *
 * Each round: two relays, a slow tunnel reader on relay 2 (test/fixtures/slow-tunnel-member.ts),
 * 200 MiB pushed from relay 1, while HOGS busy-loop processes load the machine. Prints the
 * outcome and how many times each relay's connection monitor aborted a connection.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { connect } from '@herald/client'
import { ROOT, killAll, spawnNode, startRelay } from './harness.js'
import { seesCluster, watch } from './overlay-helpers.js'

const rounds = Number(process.argv[2] ?? 5)
const hogs = Array.from({ length: Number(process.argv[3] ?? 4) }, () => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))
const env = { DEBUG: 'libp2p:connection-monitor*', DEBUG_HIDE_DATE: '1' }
const aborts = (s: string): number => s.split('aborting connection due to ping failure').length - 1
let bad = 0
try {
  for (let round = 1; round <= rounds; round++) {
    const r1 = await startRelay([], { env })
    const r2 = await startRelay(['--bootstrap', r1.addrs[0]!], { env })
    const w1 = await watch(r1)
    const member = spawnNode(join(ROOT, 'test/fixtures/slow-tunnel-member.ts'), [String(r2.port), 'slow', '2', '4'], { nodeArgs: ['--import', 'tsx'] })
    await member.waitFor(/ready/, 30_000)
    let outcome: string
    try {
      await seesCluster(w1, r2.peerId, 'slow', 1, 15_000)
      const conn = await connect({ port: r1.port })
      const tun = await conn.tunnel('slow', { timeoutMs: 5000 })
      void (async () => { try { for await (const _ of tun) { /* reports */ } } catch { /* below */ } })()
      const chunk = new Uint8Array(128 * 1024)
      let sent = 0
      try {
        while (sent < 200 * 1024 * 1024) { await tun.send(chunk, { timeoutMs: 10_000 }); sent += chunk.length }
        outcome = 'ok: 200 MiB through'
      } catch (err) {
        outcome = `TUNNEL FAILED after ${sent >> 20} MiB: ${(err as Error).message}`
      }
    } catch {
      outcome = 'NO PAIR: the two relays never linked within 15 s'
    }
    const a = [aborts(r1.stderr()), aborts(r2.stderr())]
    if (!outcome.startsWith('ok')) bad++
    console.log(`round ${round}: ${outcome}; connection-monitor aborts: relay 1 ${a[0]}, relay 2 ${a[1]}`)
    await w1.close()
    await killAll()
  }
} finally {
  for (const h of hogs) h.kill('SIGKILL')
  await killAll()
}
console.log(`${bad} of ${rounds} rounds failed`)
process.exit(0)
