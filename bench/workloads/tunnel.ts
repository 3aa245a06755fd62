/**
 * Tunnels (Herald only; NATS has no ordered, flow-controlled stream in core NATS): one client
 * sends 64 KiB messages through a tunnel to one member, as fast as the member's allowance lets
 * it, through one relay (tunnel-1) or across two (tunnel-2: client on relay A, member on B).
 */
import { deadline, startWorker, ticker } from '../driver.js'
import type { Row, RunOptions, RunResult, System, Workload } from '../workload.js'
import { MiB, serverMetrics, withServers } from './common.js'

const CLUSTER = 'bench.tunnel'
const SIZE = 64 * 1024

interface ClientDone { sent: number; boundary: number; boundaryAt: number; endedAt: number; cpuSeconds: number }
interface MemberDone { received: number; measured: number; measuredBytes: number; windowStart: number; lastAt: number; outOfOrder: number; cpuSeconds: number }

async function runTunnel(system: System, opts: RunOptions, relays: 1 | 2): Promise<RunResult> {
  if (system !== 'herald') throw new Error('tunnels are Herald-only')
  return withServers(system, relays, opts, async (g) => {
    const a = g.servers[0]!
    const b = g.servers[g.servers.length - 1]!
    const member = startWorker('tunnel-member.ts', ['--port', String(b.port), '--cluster', CLUSTER], 'tunnel member')
    await deadline(member.line('ready'), 60_000, 'the tunnel member to register')
    await g.waitCluster(CLUSTER)
    const client = startWorker('tunnel-client.ts', ['--port', String(a.port), '--cluster', CLUSTER, '--size', String(SIZE),
      '--warmup-ms', String(opts.warmupMs), '--seconds', String(opts.seconds),
      ...(opts.messages !== undefined ? ['--messages', String(Math.max(1, Math.floor(opts.messages / 100)))] : [])], 'tunnel client')
    const stopTicker = ticker(opts.label, opts.progress, () => ({
      sent: Number(client.progress['sent'] ?? 0), delivered: Number(member.progress['received'] ?? 0),
    }), g.servers)
    try {
      let cpu0 = g.cpu()
      void client.line('measuring').then(() => { cpu0 = g.cpu(); member.send({ mark: true }) }, () => {})
      const c = await deadline(client.line<ClientDone>('done'), opts.warmupMs + opts.seconds * 1000 + 60_000, 'the tunnel client')
      member.send({ expect: c.sent, boundary: Math.max(0, c.boundary) })
      const m = await deadline(member.line<MemberDone>('done'), 60_000, 'the tunnel member to drain')
      const cpu1 = g.cpu()
      stopTicker()
      client.send({ exit: true })

      const boundary = Math.max(0, c.boundary)
      const sendSeconds = (c.endedAt - c.boundaryAt) / 1000
      const seconds = Math.max(1e-3, (m.lastAt - m.windowStart) / 1000)
      const loss = c.sent - m.received
      const failures: string[] = []
      if (loss !== 0) failures.push(`lost ${loss} of ${c.sent} tunnel messages`)
      if (m.outOfOrder !== 0) failures.push(`${m.outOfOrder} tunnel messages out of order`)
      const notes = failures.length > 0 ? [`after the run: ${await g.diagnostics()}`] : []
      return {
        metrics: [
          { key: 'sentMiBPerSec', label: 'sent MiB/s', value: ((c.sent - boundary) * SIZE) / sendSeconds / MiB, unit: 'MiB/s', digits: 1 },
          { key: 'deliveredMiBPerSec', label: 'delivered MiB/s', value: m.measuredBytes / seconds / MiB, unit: 'MiB/s', digits: 1 },
          { key: 'deliveredPerSec', label: 'delivered msg/s', value: m.measured / seconds, unit: 'msg/s' },
          { key: 'loss', label: 'loss (msgs)', value: loss, unit: 'msgs' },
          { key: 'seconds', label: 'measured s', value: seconds, unit: 's', digits: 2 },
          ...serverMetrics(g, cpu0, cpu1, m.measuredBytes / MiB, 'MiB').map((x) => (x.unit === 'µs' ? { ...x, label: x.label.replace('µs/MiB', 'ms/MiB'), value: x.value / 1000, unit: 'ms', digits: 2 } : x)),
          { key: 'clientCpuSeconds', label: 'client CPU s', value: c.cpuSeconds, unit: 's', digits: 2 },
          { key: 'memberCpuSeconds', label: 'member CPU s', value: m.cpuSeconds, unit: 's', digits: 2 },
        ],
        failures,
        notes,
      }
    } finally {
      stopTicker()
    }
  })
}

const NO_NATS = 'core NATS has no ordered, flow-controlled stream'

function tunnelRow(name: string, description: string, relays: 1 | 2): Row {
  return {
    name,
    description,
    systems: ['herald'],
    noNats: NO_NATS,
    headline: ['deliveredMiBPerSec', 'relayCpuMicrosPer', 'relayACpuMicrosPer', 'relayBCpuMicrosPer'],
    params: (o) => ({ size: SIZE, relays, warmupMs: o.warmupMs, seconds: o.seconds }),
    run: (system, opts) => runTunnel(system, opts, relays),
  }
}

export const tunnel: Workload = {
  name: 'tunnel',
  description: 'tunnel throughput, 64 KiB messages, through one relay and across two (Herald only)',
  rows: [
    tunnelRow('tunnel-1', 'client -> relay -> member, 64 KiB messages', 1),
    tunnelRow('tunnel-2', 'client on relay A -> member on relay B, 64 KiB messages', 2),
  ],
}
