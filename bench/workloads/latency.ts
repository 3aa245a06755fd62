/**
 * Latency under load: requests at a fixed offered rate (open loop, timed from each request's
 * scheduled send time: workers/paced-requester.ts) while a pub/sub stream of 1 KiB events runs
 * at a fixed rate through the same servers — so both systems get the same offered work, and
 * the percentiles show what the stream does to a request's round trip.
 *
 *   latency-1  one relay: publisher, subscriber, client and member all on it
 *   latency-2  two relays: publisher and client on A, subscriber and member on B, so requests,
 *              replies and the stream share the A-B link (NATS: the route between two servers)
 */
import { deadline, startWorker, ticker, type Worker } from '../driver.js'
import type { Metric, Row, RunOptions, RunResult, System, Workload } from '../workload.js'
import { MiB, latencyMetrics, serverMetrics, withServers } from './common.js'

const CLUSTER = 'bench.echo'
const TOPIC = 'bench.stream'
const REQUEST_SIZE = 64
const STREAM_SIZE = 1024
/** The stream publisher's own warm-up, before the client starts (not measured). */
const STREAM_WARMUP_MS = 500

interface Summary { p50: number; p90: number; p99: number; p999: number; max: number; mean: number }
interface PacedDone extends Summary {
  sent: number; replies: number; measured: number; seconds: number; service: Summary; lag: Summary
  errors: number; firstError: string; cpuSeconds: number
}
interface PubDone { sent: number; boundary: number; boundaryAt: number; endedAt: number; cpuSeconds: number }
interface SubDone { received: number; measured: number; windowStart: number; lastAt: number; outOfOrder: number; cpuSeconds: number }
interface MemberDone { cpuSeconds: number }

async function runLatency(system: System, opts: RunOptions, relays: 1 | 2): Promise<RunResult> {
  return withServers(system, relays, opts, async (g) => {
    const a = g.servers[0]!
    const b = g.servers[g.servers.length - 1]!
    const sub = startWorker('subscriber.ts', ['--system', system, '--port', String(b.port), '--topic', TOPIC, '--memory', String(256 * MiB)], 'subscriber')
    const member = startWorker('member.ts', ['--system', system, '--port', String(b.port), '--cluster', CLUSTER], 'member')
    await deadline(Promise.all([sub.line('ready'), member.line('ready')]), 60_000, 'the subscriber and the member')
    await g.waitTopic(TOPIC)
    await g.waitCluster(CLUSTER)

    // The stream runs until told to stop, from before the client starts until after it ends.
    const pub = startWorker('publisher.ts', ['--system', system, '--port', String(a.port), '--topic', TOPIC, '--size', String(STREAM_SIZE),
      '--rate', String(opts.streamRate), '--warmup-ms', String(STREAM_WARMUP_MS), '--seconds', '86400'], 'stream publisher')
    let client: Worker | undefined
    const stopTicker = ticker(opts.label, opts.progress, () => ({
      replies: Number(client?.progress['replies'] ?? 0), events: Number(sub.progress['received'] ?? 0),
    }), g.servers)
    try {
      await deadline(pub.line('measuring'), 60_000, 'the stream to start')
      sub.send({ mark: true })
      client = startWorker('paced-requester.ts', ['--system', system, '--port', String(a.port), '--cluster', CLUSTER, '--rate', String(opts.rate),
        '--warmup-ms', String(opts.warmupMs), '--seconds', String(opts.seconds), '--size', String(REQUEST_SIZE)], 'client')
      let cpu0 = g.cpu()
      void client.line('measuring').then(() => { cpu0 = g.cpu(); member.send({ mark: true }) }, () => {})
      const r = await deadline(client.line<PacedDone>('done'), opts.warmupMs + opts.seconds * 1000 + 60_000, 'the client')
      const cpu1 = g.cpu()
      stopTicker()
      member.send({ stop: true })
      pub.send({ stop: true })
      const p = await deadline(pub.line<PubDone>('done'), 60_000, 'the stream publisher to stop')
      sub.send({ expect: p.sent, boundary: Math.max(0, p.boundary) })
      const [s, m] = await deadline(Promise.all([sub.line<SubDone>('done'), member.line<MemberDone>('done')]), 60_000, 'the subscriber and the member')
      return report(g, r, p, s, m, cpu0, cpu1)
    } finally {
      stopTicker()
    }
  })

  async function report(g: Parameters<typeof serverMetrics>[0], r: PacedDone, p: PubDone, s: SubDone, m: MemberDone, cpu0: number[], cpu1: number[]): Promise<RunResult> {
    const failures: string[] = []
    if (r.errors > 0) failures.push(`${r.errors} of ${r.sent} requests failed (first: ${r.firstError})`)
    if (r.replies + r.errors !== r.sent) failures.push(`${r.sent - r.replies - r.errors} requests never settled`)
    if (s.received !== p.sent) failures.push(`the stream subscriber lost ${p.sent - s.received} of ${p.sent} events`)
    if (s.outOfOrder !== 0) failures.push(`${s.outOfOrder} stream events out of publish order`)
    const notes = failures.length > 0 ? [`after the run: ${await g.diagnostics()}`] : []
    const streamSeconds = Math.max(1e-3, (s.lastAt - s.windowStart) / 1000)
    const perSecond = (cpu: Metric): Metric => ({ ...cpu, key: cpu.key.replace('CpuSeconds', 'CpuPct'), label: cpu.label.replace('CPU s', 'CPU % of a core'), value: (cpu.value / r.seconds) * 100, unit: '%', digits: 0 })
    const servers = serverMetrics(g, cpu0, cpu1, 0, 'req').filter((x) => !x.key.endsWith('CpuMicrosPer'))
    return {
      metrics: [
        { key: 'requestsPerSec', label: 'replies/s (measured)', value: r.measured / Math.max(1e-3, r.seconds), unit: 'req/s' },
        ...latencyMetrics(r, '', 'from schedule: '),
        ...latencyMetrics(r.service, 'service', 'from send: ').filter((x) => /P50|P99Micros|Max/.test(x.key)),
        ...latencyMetrics(r.lag, 'lag', 'client send lag: ').filter((x) => /P50|P99Micros|Max/.test(x.key)),
        { key: 'loss', label: 'failed requests', value: r.errors + (r.sent - r.replies - r.errors), unit: 'req' },
        { key: 'streamDeliveredPerSec', label: 'stream delivered msg/s', value: s.measured / streamSeconds, unit: 'msg/s' },
        { key: 'streamLoss', label: 'stream loss (msgs)', value: p.sent - s.received, unit: 'msgs' },
        ...servers.flatMap((x) => (x.key.endsWith('CpuSeconds') ? [x, perSecond(x)] : [x])),
        { key: 'clientCpuSeconds', label: 'client CPU s (incl. its pacer thread)', value: r.cpuSeconds, unit: 's', digits: 2 },
        { key: 'memberCpuSeconds', label: 'member CPU s', value: m.cpuSeconds, unit: 's', digits: 2 },
        { key: 'subscriberCpuSeconds', label: 'stream subscriber CPU s', value: s.cpuSeconds, unit: 's', digits: 2 },
      ],
      failures,
      notes,
    }
  }
}

function latencyRow(name: string, description: string, relays: 1 | 2): Row {
  return {
    name,
    description,
    systems: ['herald', 'nats'],
    headline: ['p50Micros', 'p99Micros'],
    params: (o) => ({ relays, requestSize: REQUEST_SIZE, rate: o.rate, streamSize: STREAM_SIZE, streamRate: o.streamRate, warmupMs: o.warmupMs, seconds: o.seconds }),
    run: (system, opts) => runLatency(system, opts, relays),
  }
}

export const latency: Workload = {
  name: 'latency',
  description: 'request latency at a fixed offered rate (open loop, from the scheduled send time) while a 1 KiB pub/sub stream runs, one relay and two',
  rows: [
    latencyRow('latency-1', 'requests at a fixed rate + a 1 KiB stream, one relay', 1),
    latencyRow('latency-2', 'requests at a fixed rate + a 1 KiB stream, across two relays', 2),
  ],
}
