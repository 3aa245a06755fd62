/**
 * Request/reply through one relay, 64-byte requests answered by an echo member.
 *
 *   request-seq  one client, one request at a time, one member: round-trip latency
 *   request-64   one client with 64 requests in flight, two members (separate processes): req/s
 */
import { deadline, startWorker, ticker, type Worker } from '../driver.js'
import type { Metric, Row, RunOptions, RunResult, System, Workload } from '../workload.js'
import { serverMetrics, withServers } from './common.js'

const CLUSTER = 'bench.echo'
const SIZE = 64

interface ReqDone {
  sent: number; replies: number; measured: number; seconds: number
  p50: number; p99: number; max: number; mean: number; errors: number; firstError: string; cpuSeconds: number
}
interface MemberDone { handled: number; measured: number; cpuSeconds: number }

async function runRequests(system: System, opts: RunOptions, mode: 'seq' | 'flood', members: number): Promise<RunResult> {
  return withServers(system, 1, opts, async (g) => {
    const port = String(g.servers[0]!.port)
    const ms: Worker[] = []
    for (let i = 0; i < members; i++) ms.push(startWorker('member.ts', ['--system', system, '--port', port, '--cluster', CLUSTER], `member ${i + 1}`))
    await deadline(Promise.all(ms.map((m) => m.line('ready'))), 60_000, 'members to register')

    const client = startWorker('requester.ts', ['--system', system, '--port', port, '--cluster', CLUSTER, '--mode', mode,
      '--concurrency', '64', '--warmup-ms', String(opts.warmupMs), '--count', String(opts.requests),
      '--seconds', String(opts.seconds), '--size', String(SIZE)], 'client')
    const stopTicker = ticker(opts.label, opts.progress, () => ({ replies: Number(client.progress['replies'] ?? 0) }), g.servers)
    try {
      let cpu0 = g.cpu()
      void client.line('measuring').then(() => {
        cpu0 = g.cpu()
        for (const m of ms) m.send({ mark: true })
      }, () => {})
      const r = await deadline(client.line<ReqDone>('done'), opts.warmupMs + opts.seconds * 1000 + opts.requests * 5 + 60_000, 'the client')
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
          { key: 'p50Micros', label: 'p50 µs', value: r.p50, unit: 'µs' },
          { key: 'p99Micros', label: 'p99 µs', value: r.p99, unit: 'µs' },
          { key: 'maxMicros', label: 'max µs', value: r.max, unit: 'µs' },
          { key: 'meanMicros', label: 'mean µs', value: r.mean, unit: 'µs' },
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

const seqRow: Row = {
  name: 'request-seq',
  description: 'sequential round trips, one member, 64 B',
  systems: ['herald', 'nats'],
  headline: ['p50Micros', 'p99Micros', 'relayCpuMicrosPer'],
  params: (o) => ({ size: SIZE, members: 1, inFlight: 1, warmupMs: o.warmupMs, requests: o.requests }),
  run: (system, opts) => runRequests(system, opts, 'seq', 1),
}

const floodRow: Row = {
  name: 'request-64',
  description: '64 requests in flight, two members (separate processes), 64 B',
  systems: ['herald', 'nats'],
  headline: ['requestsPerSec', 'p50Micros', 'relayCpuMicrosPer'],
  params: (o) => ({ size: SIZE, members: 2, inFlight: 64, warmupMs: o.warmupMs, seconds: o.seconds }),
  run: (system, opts) => runRequests(system, opts, 'flood', 2),
}

export const request: Workload = {
  name: 'request',
  description: 'request/reply: sequential latency with one member; 64-in-flight throughput with two members',
  rows: [seqRow, floodRow],
}
