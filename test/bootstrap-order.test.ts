// Start order must not matter: a relay started before the relay it bootstraps from joins
// once that relay comes up (the bootstrap address is redialled, not dialled once at start).
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@herald/client'
import { killAll, startRelay, until } from './harness.js'

const dir = mkdtempSync(join(tmpdir(), 'herald-boot-order-'))

/**
 * A free port below the kernel's ephemeral range. A is stopped and restarted on the same
 * port; a port from port 0 is ephemeral, and while A is down any outgoing connection on the
 * machine may be given it (CI once failed so: EADDRINUSE on A's restart). Nothing here binds
 * below that range except by asking for a port, so this one stays free.
 */
async function portBelowEphemeral(): Promise<number> {
  const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0] ?? 32768)
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000))
    const free = await new Promise<boolean>((resolve) => {
      const srv = createServer()
      srv.once('error', () => resolve(false))
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)))
    })
    if (free) return port
  }
}

afterAll(async () => {
  await killAll()
  rmSync(dir, { recursive: true, force: true })
})

describe('bootstrap start order', () => {
  it('a relay whose bootstrap relay is down at start joins it once it is up', async () => {
    // Learn A's identity and overlay address, then stop A.
    const port = await portBelowEphemeral()
    let a = await startRelay(['--data-dir', dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`])
    const addr = a.addrs.find((x) => x.startsWith(`/ip4/127.0.0.1/tcp/${port}/`))!
    a.kill('SIGKILL')
    await a.exited

    // B starts first and cannot reach A (its first dial fails, and says so: a dial.failed event).
    const b = await startRelay(['--bootstrap', addr])
    await b.waitFor(new RegExp(`"event":"dial\\.failed","peer":"${a.peerId}"`))

    // A comes back with the same identity on the same address.
    a = await startRelay(['--data-dir', dir, '--listen', `/ip4/127.0.0.1/tcp/${port}`])
    expect(a.addrs).toContain(addr)
    const conn = await connect({ port: b.port })
    try {
      const peers = async (): Promise<Array<{ nodeId: string; connected: boolean }>> =>
        (JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString('utf8')) as { peers: Array<{ nodeId: string; connected: boolean }> }).peers
      await until(async () => (await peers()).some((p) => p.nodeId === a.peerId && p.connected), 15_000, 'B to link with A')
    } finally {
      await conn.close()
    }
  })
})
