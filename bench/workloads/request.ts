/**
 * Request/reply, 64-byte requests answered by echo members, through one relay or across two
 * (client on relay A, members on relay B; NATS: two servers joined by a route).
 *
 *   request-seq    one client, one request at a time, one member: round-trip latency
 *   request-64     one client with 64 requests in flight, two members (separate processes): req/s
 *   request-seq-2, request-64-2   the same across two relays
 */
import { deadline, startWorker, ticker, type Worker } from '../driver.js'
import type { Metric, Row, RunOptions, RunResult, System, Workload } from '../workload.js'
import { latencyMetrics, serverMetrics, withServers } from './common.js'

const CLUSTER = 'bench.echo'
const SIZE = 64

interface ReqDone {
  sent: number; replies: number; measured: number; seconds: number
  p50: number; p90: number; p99: number; p999: number; max: number; mean: number; errors: number; firstError: string; cpuSeconds: number
}
interface MemberDone { handled: number; measured: number; cpuSeconds: number }

interface Shape { relays: 1 | 2; mode: 'seq' | 'flood'; members: number }

async function runRequests(system: System, opts: RunOptions, shape: Shape): Promise<RunResult> {
  return withServers(system, shape.relays, opts, async (g) => {
    const clientPort = String(g.servers[0]!.port)
    const memberPort = String(g.servers[g.servers.length - 1]!.port)
    const ms: Worker[] = []
    for (let i = 0; i < shape.members; i++) ms.push(startWorker('member.ts', ['--system', system, '--port', memberPort, '--cluster', CLUSTER], `member ${i + 1}`))
    await deadline(Promise.all(ms.map((m) => m.line('ready'))), 60_000, 'members to register')
    // Across relays: request only once relay A routes the cluster to relay B.
    await g.waitCluster(CLUSTER)

    const client = startWorker('requester.ts', ['--system', system, '--port', clientPort, '--cluster', CLUSTER, '--mode', shape.mode,
      '--concurrency', '64', '--warmup-ms', String(opts.warmupMs), '--seconds', String(opts.seconds), '--size', String(SIZE),
      ...(opts.requests !== undefined ? ['--count', String(opts.requests)] : [])], 'client')
    const stopTicker = ticker(opts.label, opts.progress, () => ({ replies: Number(client.progress['replies'] ?? 0) }), g.servers)
    try {
      let cpu0 = g.cpu()
      void client.line('measuring').then(() => {
        cpu0 = g.cpu()
        for (const m of ms) m.send({ mark: true })
      }, () => {})
      const r = await deadline(client.line<ReqDone>('done'), opts.warmupMs + opts.seconds * 1000 + 60_000, 'the client')
      const cpu1 = g.cpu()
      stopTicker()
      for (const m of ms) m.send({ stop: true })
      const md = await deadline(Promise.all(ms.map((m) => m.line<MemberDone>('done'))), 30_000, 'members to stop')

      const failures: string[] = []
      if (r.errors > 0) failures.push(`${r.errors} of ${r.sent} requests failed (first: ${r.firstError})`)
      if (r.replies + r.errors !== r.sent) failures.push(`${r.sent - r.replies - r.errors} requests never settled`)
      const notes: string[] = failures.length > 0 ? [`after the run: ${await g.diagnostics()}`] : []
      const totalHandled = md.reduce((a, m) => a + m.measured, 0)
      const memberMetrics: Metric[] = md.length === 1
        ? [{ key: 'memberCpuSeconds', label: 'member CPU s', value: md[0]!.cpuSeconds, unit: 's', digits: 2 }]
        : [
            ...md.map((m, i): Metric => ({ key: `member${i + 1}CpuSeconds`, label: `member ${i + 1} CPU s`, value: m.cpuSeconds, unit: 's', digits: 2 })),
            { key: 'member1SharePct', label: 'member 1 share %', value: totalHandled > 0 ? (md[0]!.measured / totalHandled) * 100 : 0, unit: '%' },
          ]
      return {
        metrics: [
          { key: 'requestsPerSec', label: 'requests/s', value: r.measured / Math.max(1e-3, r.seconds), unit: 'req/s' },
          ...latencyMetrics(r),
          { key: 'loss', label: 'failed requests', value: r.errors + (r.sent - r.replies - r.errors), unit: 'req' },
          { key: 'measured', label: 'measured requests', value: r.measured, unit: 'req' },
          { key: 'seconds', label: 'measured s', value: r.seconds, unit: 's', digits: 2 },
          ...serverMetrics(g, cpu0, cpu1, r.measured, 'req'),
          { key: 'clientCpuSeconds', label: 'client CPU s', value: r.cpuSeconds, unit: 's', digits: 2 },
          ...memberMetrics,
        ],
        failures,
        notes,
      }
    } finally {
      stopTicker()
    }
  })
}

function requestRow(name: string, description: string, shape: Shape): Row {
  const seq = shape.mode === 'seq'
  return {
    name,
    description,
    systems: ['herald', 'nats'],
    headline: seq
      ? ['p50Micros', 'p99Micros', 'relayCpuMicrosPer', 'relayACpuMicrosPer', 'relayBCpuMicrosPer']
      : ['requestsPerSec', 'p50Micros', 'p99Micros', 'relayCpuMicrosPer', 'relayACpuMicrosPer', 'relayBCpuMicrosPer'],
    params: (o) => ({ size: SIZE, relays: shape.relays, members: shape.members, inFlight: seq ? 1 : 64, warmupMs: o.warmupMs, seconds: o.seconds,
      ...(seq && o.requests !== undefined ? { maxRequests: o.requests } : {}) }),
    run: (system, opts) => runRequests(system, opts, shape),
  }
}

export const request: Workload = {
  name: 'request',
  description: 'request/reply through one relay: sequential latency with one member; 64-in-flight throughput with two members',
  rows: [
    requestRow('request-seq', 'sequential round trips, one member, 64 B', { relays: 1, mode: 'seq', members: 1 }),
    requestRow('request-64', '64 requests in flight, two members (separate processes), 64 B', { relays: 1, mode: 'flood', members: 2 }),
  ],
}

export const request2: Workload = {
  name: 'request-2',
  description: 'request/reply across two relays (client on A, members on B; NATS: two servers joined by a route)',
  rows: [
    requestRow('request-seq-2', 'sequential round trips across two relays, one member on B, 64 B', { relays: 2, mode: 'seq', members: 1 }),
    requestRow('request-64-2', '64 requests in flight across two relays, two members on B, 64 B', { relays: 2, mode: 'flood', members: 2 }),
  ],
}
