/**
 * The observability options of `herald relay` end to end: --metrics/--ui addresses that cannot
 * be served (exit 1, one line) or are malformed (exit 2), and the log on stderr: JSON lines
 * when it is not a terminal, --log-level, --log-format pretty.
 */
import { createServer, type Server } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killAll, runCli, spawnCli, startRelay, until } from './harness.js'

const tmp = mkdtempSync(join(tmpdir(), 'herald-observe-'))
const keyFile = join(tmp, 'network.key')
let busy: Server
let busyPort = 0
const base = (): string[] => ['relay', '--key-file', keyFile, '--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

beforeAll(async () => {
  expect((await runCli(['keygen', '--out', keyFile])).code).toBe(0)
  busy = createServer()
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
  busyPort = (busy.address() as { port: number }).port
})
afterAll(async () => {
  busy.close()
  await killAll()
  rmSync(tmp, { recursive: true, force: true })
})

describe.concurrent('herald relay: --metrics and --ui addresses', () => {
  it.for(['--metrics', '--ui'])('%s on an address in use: exit 1, one line on stderr naming it', async (flag, { expect }) => {
    const r = await runCli([...base(), flag, `127.0.0.1:${busyPort}`])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(`herald: cannot serve ${flag} on 127.0.0.1:${busyPort}: the address is in use\n`)
  })

  it('an address of another host: exit 1, one line', async ({ expect }) => {
    const r = await runCli([...base(), '--metrics', '192.0.2.1:9464'])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe('herald: cannot serve --metrics on 192.0.2.1:9464: no interface of this host has that address\n')
  })

  it.for(['nonsense', '127.0.0.1', '127.0.0.1:99999', ':9464'])('--metrics %s: usage error, exit 2, one line', async (addr, { expect }) => {
    const r = await runCli([...base(), '--metrics', addr])
    expect(r.code).toBe(2)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toContain(`--metrics must be HOST:PORT or PORT (loopback)`)
  })
})

describe.concurrent('herald relay: the log on stderr', () => {
  it('JSON lines when stderr is not a terminal: time, level, event, msg and the event\'s fields', async ({ expect }) => {
    const p = spawnCli([...base(), '--json'])
    await p.waitFor(/"event":"relay\.ready"/)
    p.kill('SIGTERM')
    expect(await p.closed).toBe(0)
    const lines = p.stderr().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>)
    for (const l of lines) {
      expect(Object.keys(l).slice(0, 3)).toEqual(['level', 'time', 'pid'])
      expect(typeof l['event']).toBe('string')
      expect(typeof l['msg']).toBe('string')
      expect(new Date(l['time'] as string).toISOString()).toBe(l['time'])
    }
    const ready = lines.find((l) => l['event'] === 'relay.ready')!
    expect(ready['level']).toBe('info')
    expect(ready['peerId']).toBe((JSON.parse(p.stdout()) as { peerId: string }).peerId)
    expect(lines.map((l) => l['event'])).toEqual(['relay.ready', 'relay.signal', 'relay.stopped'])
  })

  it('--log-level warn: no info lines; --log-format pretty: readable lines, not JSON', async ({ expect }) => {
    const quiet = spawnCli([...base(), '--json', '--log-level', 'warn'])
    await quiet.waitFor(/"event":"ready"/)
    quiet.kill('SIGTERM')
    expect(await quiet.closed).toBe(0)
    expect(quiet.stderr()).toBe('')

    const pretty = spawnCli([...base(), '--log-format', 'pretty'])
    await pretty.waitFor(/serving clients/)
    pretty.kill('SIGTERM')
    expect(await pretty.closed).toBe(0)
    const first = pretty.stderr().split('\n')[0]!
    expect(first).toMatch(/^\[\d\d:\d\d:\d\d\.\d\d\d\] INFO: relay \S+ \(network "herald"\) serving clients on 127\.0\.0\.1:\d+; overlay \/ip4\//)
    expect(() => JSON.parse(first)).toThrow()
  })

  it('--log-level nonsense: usage error', async ({ expect }) => {
    const r = await runCli([...base(), '--log-level', 'loud'])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/^herald: option '--log-level <L>' argument 'loud' is invalid/)
  })
})

describe('herald status', () => {
  it('shows each link with its round trip and backlog; --relay ID asks another relay through this one', async () => {
    const a = await startRelay()
    const b = await startRelay(['--bootstrap', a.addrs[0]!])
    // Round trips come from the neighbors' pings: wait for one.
    await until(async () => {
      const s = JSON.parse((await runCli(['status', '--json', '--port', String(a.port)])).stdout) as { links: Array<{ nodeId: string; rttMs: number }> }
      return s.links.some((l) => l.nodeId === b.peerId && l.rttMs >= 0)
    }, 20_000, 'relay 1 to measure its link to relay 2')
    const text = await runCli(['status', '--port', String(a.port)])
    expect(text.code).toBe(0)
    expect(text.stdout).toMatch(new RegExp(`^  ${b.peerId}  rtt \\d+\\.\\d ms  backlog \\d+ B  sent `, 'm'))
    expect(text.stdout).toMatch(/^suspects {2}\(none\)$/m)
    const other = await runCli(['status', '--relay', b.peerId, '--json', '--port', String(a.port)])
    expect(other.code).toBe(0)
    expect((JSON.parse(other.stdout) as { nodeId: string }).nodeId).toBe(b.peerId)
    const unknown = await runCli(['status', '--relay', 'nobody', '--port', String(a.port)])
    expect([unknown.code, unknown.stderr]).toEqual([1, "herald: relay nobody is not in this relay's directory (NO_MEMBERS)\n"])
  })
})

