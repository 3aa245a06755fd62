/**
 * `herald bench` against real relay processes: pub/sub and request/reply with --json, checked
 * against the relay's own counters; the table; sub on one relay with pub on another; usage errors.
 */
import { afterAll, beforeAll, describe, it } from 'vitest'
import { connect } from '@herald/client'
import { killAll, runCli, spawnCli, startRelay, until, type RelayProc } from './harness.js'

interface Row { role: string; clients: number; count: number; seconds: number; msgsPerSec: number; mibPerSec: number; p50Us?: number; p99Us?: number; maxUs?: number; lost?: number; failed?: number }
interface Report { pattern: string; rows: Row[] }

async function counters(port: number, relay?: string): Promise<Record<string, number> & { peers?: never }> {
  const c = await connect({ port })
  try {
    return (JSON.parse(Buffer.from(await c.request('$herald.status', relay ?? '', { timeoutMs: 5000 })).toString()) as { counters: Record<string, number> }).counters
  } finally {
    await c.close()
  }
}

let relay: RelayProc
beforeAll(async () => { relay = await startRelay() })
afterAll(() => killAll())

describe.concurrent('herald bench', () => {
  it('pub --json: every event published is delivered, with latencies; the relay counted the same', async ({ expect }) => {
    const before = await counters(relay.port)
    const r = await runCli(['bench', 'pub', 'bench.pub', '--pub', '2', '--sub', '2', '--msgs', '20000', '--size', '64', '--json', '--port', String(relay.port)])
    expect(r.code).toBe(0)
    const report = JSON.parse(r.stdout) as Report
    const [pubs, subs] = report.rows
    expect([pubs!.role, pubs!.clients, pubs!.count]).toEqual(['publishers', 2, 20_000])
    expect([subs!.role, subs!.clients, subs!.count, subs!.lost]).toEqual(['subscribers', 2, 40_000, 0])
    expect(subs!.p50Us).toBeGreaterThan(0)
    expect(subs!.p99Us).toBeGreaterThanOrEqual(subs!.p50Us!)
    expect(subs!.maxUs).toBeGreaterThanOrEqual(subs!.p99Us!)
    const after = await counters(relay.port)
    expect(after['publishedByClients']! - before['publishedByClients']!).toBeGreaterThanOrEqual(20_000)
    expect(after['delivered']! - before['delivered']!).toBeGreaterThanOrEqual(40_000)
  })

  it('request --json: every request answered by the bench\'s own members; the table without --json', async ({ expect }) => {
    const r = await runCli(['bench', 'request', 'bench.math', '--clients', '2', '--concurrency', '8', '--reply', '2', '--msgs', '5000', '--json', '--port', String(relay.port)])
    expect(r.code).toBe(0)
    const [reqs, members] = (JSON.parse(r.stdout) as Report).rows
    expect([reqs!.role, reqs!.count, reqs!.failed]).toEqual(['requests', 5000, 0])
    expect([members!.role, members!.clients, members!.count]).toEqual(['members', 2, 5000])
    expect(reqs!.p99Us).toBeGreaterThanOrEqual(reqs!.p50Us!)

    const t = await runCli(['bench', 'request', 'bench.table', '--duration', '0.5', '--port', String(relay.port)])
    expect(t.code).toBe(0)
    const lines = t.stdout.split('\n')
    expect(lines[0]).toBe('herald bench request: requests to "bench.table", 128 B payloads, 0.5 s')
    expect(lines[2]).toMatch(/^ +clients +messages +msg\/s +MiB\/s +p50 +p99 +max +lost\/failed$/)
    expect(lines[4]).toMatch(/^requests +1 +[\d,]+ +[\d,]+ +[\d.]+ +[\d.]+ (µs|ms) +[\d.]+ (µs|ms) +[\d.]+ (µs|ms) +0$/)
    expect(t.stderr).toBe('') // no progress bars when stderr is not a terminal
  })

  it('sub on one relay, pub --sub 0 on another: the subscribers count what crossed the overlay, and its bytes', async ({ expect }) => {
    const b = await startRelay(['--bootstrap', relay.addrs[0]!])
    // No --size for sub: its MiB/s is what arrived (1,000-byte events), not its own default size.
    const sub = spawnCli(['bench', 'sub', 'bench.far', '--sub', '2', '--msgs', '5000', '--json', '--port', String(b.port)])
    const c = await connect({ port: relay.port })
    await until(async () => {
      const s = JSON.parse(Buffer.from(await c.request('$herald.status', '', { timeoutMs: 5000 })).toString()) as { peers: Array<{ nodeId: string; topics: string[] }> }
      return s.peers.some((p) => p.nodeId === b.peerId && p.topics.includes('bench.far'))
    }, 15_000, 'relay 1 to see the subscribers on relay 2')
    await c.close()
    const pub = await runCli(['bench', 'pub', 'bench.far', '--sub', '0', '--msgs', '5000', '--size', '1000', '--json', '--port', String(relay.port)])
    expect(pub.code).toBe(0)
    expect((JSON.parse(pub.stdout) as Report).rows.map((x) => [x.role, x.count])).toEqual([['publishers', 5000]])
    expect(await sub.closed).toBe(0)
    const rows = (JSON.parse(sub.stdout()) as Report).rows
    expect(rows.map((x) => [x.role, x.clients, x.count, x.lost])).toEqual([['subscribers', 2, 10_000, 0]])
    const row = rows[0]!
    expect(Math.round((row.mibPerSec * 1048576 * row.seconds) / row.count)).toBe(1000)
  })

  it.for([
    [['bench', 'push', 'x'], 'the pattern must be pub, sub or request, got "push"'],
    [['bench', 'pub', 'x', '--msgs', '10', '--duration', '1'], 'give --msgs or --duration, not both'],
    [['bench', 'pub', 'x', '--duration', 'soon'], '--duration must be a number of seconds > 0, got "soon"'],
    [['bench', 'sub', 'x', '--sub', '0'], 'herald bench sub needs at least one subscriber'],
  ] as const)('usage error, exit 2: %s', async ([args, message], { expect }) => {
    const r = await runCli([...args, '--port', String(relay.port)])
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(`herald: ${message}\n`)
  })

  it('a relay that is not there: exit 1, one line', async ({ expect }) => {
    const r = await runCli(['bench', 'pub', 'x', '--msgs', '10', '--port', '1'])
    expect(r.code).toBe(1)
    expect(r.stderr.trim().split('\n')).toHaveLength(1)
    expect(r.stderr).toMatch(/^herald: subscriber 1: /)
  })
})
