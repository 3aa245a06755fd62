import { afterAll, describe, expect, it } from 'vitest'
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, register, generateClusterKey, type Connection } from '@herald/client'
import { killAll, runCli, startRelay, until, type RelayProc } from './harness.js'

afterAll(killAll)

interface Status { peers: Array<{ nodeId: string }> }

async function status(port: number): Promise<Status> {
  const c = await connect({ port })
  try {
    return JSON.parse(Buffer.from(await c.request('$herald.status', '')).toString()) as Status
  } finally {
    await c.close()
  }
}

async function linked(a: RelayProc, b: RelayProc): Promise<boolean> {
  const [sa, sb] = await Promise.all([status(a.port), status(b.port)])
  return sa.peers.some((p) => p.nodeId === b.peerId) && sb.peers.some((p) => p.nodeId === a.peerId)
}

/** A TCP proxy that records every byte in both directions. */
async function recordingProxy(targetPort: number): Promise<{ port: number; bytes: () => Buffer; server: Server }> {
  const chunks: Buffer[] = []
  const sockets: Socket[] = []
  const server = createServer((inbound) => {
    const outbound = netConnect({ host: '127.0.0.1', port: targetPort })
    sockets.push(inbound, outbound)
    inbound.on('data', (c: Buffer) => { chunks.push(c); outbound.write(c) })
    outbound.on('data', (c: Buffer) => { chunks.push(c); inbound.write(c) })
    const end = (): void => { inbound.destroy(); outbound.destroy() }
    inbound.on('error', end).on('close', end)
    outbound.on('error', end).on('close', end)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const addr = server.address()
  return { port: typeof addr === 'object' && addr !== null ? addr.port : 0, bytes: () => Buffer.concat(chunks), server }
}

function tcpPortOf(addr: string): number {
  const m = addr.match(/\/tcp\/(\d+)/)
  return Number(m?.[1])
}

async function keyFile(dir: string, name: string): Promise<string> {
  const f = join(dir, name)
  const r = await runCli(['keygen', '--out', f])
  expect(r.code).toBe(0)
  return f
}

describe('network keys', () => {
  for (const cloak of [false, true]) {
    it(`a relay with the wrong key never completes a connection${cloak ? ' (--cloak)' : ''}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'herald-keys-'))
      const k1 = await keyFile(dir, 'k1')
      const k2 = await keyFile(dir, 'k2')
      const extra = cloak ? ['--cloak'] : []
      const a = await startRelay(['--key-file', k1, ...extra], {}, { dev: false })
      const b = await startRelay(['--key-file', k2, '--bootstrap', a.addrs[0]!, ...extra], {}, { dev: false })
      const c = await startRelay(['--key-file', k1, '--bootstrap', a.addrs[0]!, ...extra], {}, { dev: false })
      // The relay with the same key links; by then the wrong-key relay has had its chance too.
      await until(() => linked(a, c), 10_000, 'same-key relays to link')
      const [sa, sb] = await Promise.all([status(a.port), status(b.port)])
      expect(sa.peers.map((p) => p.nodeId)).not.toContain(b.peerId)
      expect(sb.peers).toEqual([])
      // A member behind the wrong key is unreachable.
      const svc = await register({ port: b.port, cluster: 'hidden', handler: { handleRequest: () => 'leak' } })
      const conn = await connect({ port: a.port })
      await expect(conn.request('hidden', 'x', { timeoutMs: 2000 })).rejects.toMatchObject({ code: 'NO_MEMBERS' })
      await conn.close()
      await svc.close()
    })
  }

  it('moves 256 MiB through a tunnel across two --cloak relays intact (xsalsa20 work-around)', async () => {
    const a = await startRelay(['--cloak'])
    const b = await startRelay(['--cloak', '--bootstrap', a.addrs[0]!])
    await until(() => linked(a, b), 10_000, 'cloaked relays to link')
    const svc = await register({
      port: b.port, cluster: 'sink',
      handler: {
        async handleTunnel(t) {
          const h = createHash('sha256')
          let bytes = 0
          for await (const m of t) {
            if (m.length === 3 && Buffer.from(m).toString() === 'END') break
            h.update(m)
            bytes += m.length
          }
          await t.send(`${bytes}:${h.digest('hex')}`)
        },
      },
    })
    await until(async () => (await status(a.port)).peers.some((p) => (p as unknown as { clusters: Record<string, unknown> }).clusters['sink'] !== undefined), 5000, 'directory to list sink')
    const conn = await connect({ port: a.port })
    const tun = await conn.tunnel('sink')
    const h = createHash('sha256')
    const messages = 4096
    for (let i = 0; i < messages; i++) {
      const chunk = Buffer.alloc(64 * 1024, i & 0xff) // a fresh buffer: send() may keep it until written
      chunk.writeUInt32BE(i, 0)
      h.update(chunk)
      await tun.send(chunk)
    }
    await tun.send('END')
    const answer = Buffer.from(await tun.receive({ timeoutMs: 60_000 })).toString()
    expect(answer).toBe(`${messages * 64 * 1024}:${h.digest('hex')}`)
    await tun.close()
    await svc.close()
    await conn.close()
  })
})

describe('what crosses the wire between relays', () => {
  let conn: Connection | undefined
  afterAll(async () => { await conn?.close() })

  it('a plaintext marker never appears in a capture of the peer link, with or without cluster keys', async () => {
    const a = await startRelay()
    const proxy = await recordingProxy(tcpPortOf(a.addrs[0]!))
    const viaProxy = `/ip4/127.0.0.1/tcp/${proxy.port}/p2p/${a.peerId}`
    const b = await startRelay(['--bootstrap', viaProxy])
    await until(() => linked(a, b), 10_000, 'relays to link through the proxy')
    const key = generateClusterKey()
    const MARKER = 'HERALD-PLAINTEXT-MARKER-7f3a'
    const keyed = await register({ port: a.port, cluster: 'keyed', key, handler: { handleRequest: (r) => r } })
    const open = await register({ port: a.port, cluster: 'open', handler: { handleRequest: (r) => r } })
    await until(async () => {
      const s = (await status(b.port)) as unknown as { peers: Array<{ clusters: Record<string, unknown> }> }
      return s.peers.some((p) => p.clusters['keyed'] !== undefined && p.clusters['open'] !== undefined)
    }, 5000, 'directory to list both clusters')
    conn = await connect({ port: b.port, clusterKeys: { keyed: key } })
    const before = proxy.bytes().length
    for (let i = 0; i < 50; i++) {
      expect(Buffer.from(await conn.request('keyed', `${MARKER} keyed ${i}`)).toString()).toBe(`${MARKER} keyed ${i}`)
      expect(Buffer.from(await conn.request('open', `${MARKER} open ${i}`)).toString()).toBe(`${MARKER} open ${i}`)
    }
    const captured = proxy.bytes()
    // The requests really crossed the recorded link (both ways), and not one marker is readable.
    expect(captured.length - before).toBeGreaterThan(100 * 2 * MARKER.length)
    expect(captured.includes(Buffer.from(MARKER))).toBe(false)
    expect(captured.includes(Buffer.from('HERALD-PLAINTEXT'))).toBe(false)
    await keyed.close()
    await open.close()
    proxy.server.close()
  })
})

describe('key files', () => {
  it('a malformed key file is refused with one clear line (exit 2); --dev warns that it is insecure', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-badkey-'))
    const f = join(dir, 'bad.key')
    writeFileSync(f, 'herald-network-key/1\nnot-base64-of-32-bytes\n', { mode: 0o600 })
    const r = await runCli(['relay', '--key-file', f, '--port', '0', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { timeoutMs: 10_000 })
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/malformed/)
    const dev = await startRelay()
    expect(dev.stderr()).toMatch(/WARNING: --dev .*anyone can join/)
  })
})
