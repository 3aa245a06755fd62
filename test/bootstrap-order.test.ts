// Start order must not matter: a relay started before the relay it bootstraps from joins
// once that relay comes up (the bootstrap address is redialled, not dialled once at start).
import { afterAll, describe, expect, it } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@herald/client'
import { killAll, startRelay, until } from './harness.js'

const dir = mkdtempSync(join(tmpdir(), 'herald-boot-order-'))

afterAll(async () => {
  await killAll()
  rmSync(dir, { recursive: true, force: true })
})

describe('bootstrap start order', () => {
  it('a relay whose bootstrap relay is down at start joins it once it is up', async () => {
    // Learn A's identity and overlay address, then stop A.
    let a = await startRelay(['--data-dir', dir])
    const addr = a.addrs.find((x) => x.startsWith('/ip4/127.0.0.1/tcp/'))!
    const port = addr.split('/')[4]!
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
