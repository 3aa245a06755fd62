/**
 * Publish/subscribe workloads: one publisher process -> N subscriber processes, one topic,
 * over one server or two (publisher on the first, subscribers on the second).
 *
 *   pubsub-1  one relay, 1 -> 1, at 64 B and 1 KiB (rows pubsub-1-64, pubsub-1-1k)
 *   pubsub-2  two relays, 1 -> 1, 64 B and 1 KiB (publisher on relay A, subscriber on relay B)
 *   fanout    one relay, 1 -> 4 subscribers, 64 B
 */
import { deadline, startWorker, ticker, type Worker } from '../driver.js'
import type { Metric, Row, RunOptions, RunResult, System, Workload } from '../workload.js'
import { MiB, serverMetrics, withServers } from './common.js'

/** The subscriber's memory limit: large, so nothing ever needs dropping — any loss is a bug. */
const SUBSCRIPTION_MEMORY = 256 * MiB
const TOPIC = 'bench.pubsub'

interface PubDone { sent: number; boundary: number; boundaryAt: number; endedAt: number; cpuSeconds: number }
interface SubDone { received: number; measured: number; windowStart: number; lastAt: number; dropped: number; outOfOrder: number; cpuSeconds: number }

interface Shape { relays: 1 | 2; subscribers: number; size: number }

async function runPubsub(system: System, opts: RunOptions, shape: Shape): Promise<RunResult> {
  return withServers(system, shape.relays, opts, async (g) => {
    const pubServer = g.servers[0]!
    const subServer = g.servers[g.servers.length - 1]!
    const subs: Worker[] = []
    for (let i = 0; i < shape.subscribers; i++) {
      subs.push(startWorker('subscriber.ts', ['--system', system, '--port', String(subServer.port), '--topic', TOPIC,
        '--memory', String(SUBSCRIPTION_MEMORY)], `subscriber ${i + 1}`))
    }
    await deadline(Promise.all(subs.map((s) => s.line('ready'))), 60_000, 'subscribers to subscribe')
    // Across relays: publish only once relay A routes the topic to relay B.
    await g.waitTopic(TOPIC)

    const args = ['--system', system, '--port', String(pubServer.port), '--topic', TOPIC, '--size', String(shape.size),
      '--warmup-ms', String(opts.warmupMs), '--seconds', String(opts.seconds),
      ...(opts.messages !== undefined ? ['--messages', String(opts.messages)] : [])]
    const pub = startWorker('publisher.ts', args, 'publisher')
    const stopTicker = ticker(opts.label, opts.progress, () => ({
      sent: Number(pub.progress['sent'] ?? 0),
      delivered: subs.reduce((a, s) => a + Number(s.progress['received'] ?? 0), 0),
    }), g.servers)
    try {
      let cpu0 = g.cpu()
      void pub.line('measuring').then(() => {
        cpu0 = g.cpu()
        for (const s of subs) s.send({ mark: true })
      }, () => {})
      const p = await deadline(pub.line<PubDone>('done'), (opts.warmupMs / 1000 + opts.seconds) * 1000 + 60_000, 'the publisher')
      const boundary = Math.max(0, p.boundary)
      for (const s of subs) s.send({ expect: p.sent, boundary })
      const done = await deadline(Promise.all(subs.map((s) => s.line<SubDone>('done'))), 120_000, 'the subscribers to drain')
      const cpu1 = g.cpu()
      stopTicker()
      const r = report(g, shape, p, done, cpu0, cpu1)
      if (r.failures.length > 0) r.notes.push(`after the run: ${await g.diagnostics()}`)
      return r
    } finally {
      stopTicker()
    }
  })

  function report(g: Parameters<typeof serverMetrics>[0], sh: Shape, p: PubDone, done: SubDone[], cpu0: number[], cpu1: number[]): RunResult {
    const boundary = Math.max(0, p.boundary)
    const sendSeconds = (p.endedAt - p.boundaryAt) / 1000
    const measured = done.reduce((a, d) => a + d.measured, 0)
    const windowStart = Math.min(...done.map((d) => d.windowStart))
    const windowEnd = Math.max(...done.map((d) => d.lastAt))
    const seconds = Math.max(1e-3, (windowEnd - windowStart) / 1000)
    const loss = done.reduce((a, d) => a + (p.sent - d.received), 0)
    const failures: string[] = []
    const notes: string[] = []
    done.forEach((d, i) => {
      const who = done.length > 1 ? `subscriber ${i + 1}` : 'the subscriber'
      if (d.received !== p.sent) failures.push(`${who} lost ${p.sent - d.received} of ${p.sent} messages (it reports ${d.dropped} dropped)`)
      if (d.outOfOrder !== 0) failures.push(`${who}: ${d.outOfOrder} messages out of publish order`)
    })
    if (p.boundary < 0) notes.push('the publisher never left its warm-up: everything was counted')
    const subCpu: Metric[] = done.length === 1
      ? [{ key: 'subscriberCpuSeconds', label: 'subscriber CPU s', value: done[0]!.cpuSeconds, unit: 's', digits: 2 }]
      : done.map((d, i) => ({ key: `subscriber${i + 1}CpuSeconds`, label: `subscriber ${i + 1} CPU s`, value: d.cpuSeconds, unit: 's', digits: 2 }))
    return {
      metrics: [
        { key: 'sentPerSec', label: 'published msg/s', value: (p.sent - boundary) / sendSeconds, unit: 'msg/s' },
        { key: 'deliveredPerSec', label: 'delivered msg/s', value: measured / seconds, unit: 'msg/s' },
        { key: 'deliveredMiBPerSec', label: 'delivered MiB/s', value: (measured * sh.size) / seconds / MiB, unit: 'MiB/s', digits: 1 },
        { key: 'loss', label: 'loss (msgs)', value: loss, unit: 'msgs' },
        { key: 'sent', label: 'published (incl. warm-up)', value: p.sent, unit: 'msgs' },
        { key: 'seconds', label: 'measured s', value: seconds, unit: 's', digits: 2 },
        ...serverMetrics(g, cpu0, cpu1, measured, 'msg'),
        { key: 'publisherCpuSeconds', label: 'publisher CPU s', value: p.cpuSeconds, unit: 's', digits: 2 },
        ...subCpu,
      ],
      failures,
      notes,
    }
  }
}

function pubsubRow(name: string, description: string, shape: Shape): Row {
  return {
    name,
    description,
    systems: ['herald', 'nats'],
    headline: ['deliveredPerSec', 'sentPerSec', 'relayCpuMicrosPer', 'relayACpuMicrosPer', 'relayBCpuMicrosPer'],
    params: (o) => ({ size: shape.size, relays: shape.relays, subscribers: shape.subscribers, warmupMs: o.warmupMs, seconds: o.seconds, subscriptionMemory: SUBSCRIPTION_MEMORY }),
    run: (system, opts) => runPubsub(system, opts, shape),
  }
}

export const pubsub1: Workload = {
  name: 'pubsub-1',
  description: '1 publisher -> relay -> 1 subscriber (separate processes), 64 B and 1 KiB events',
  rows: [
    pubsubRow('pubsub-1-64', '1 -> 1 through one relay, 64 B', { relays: 1, subscribers: 1, size: 64 }),
    pubsubRow('pubsub-1-1k', '1 -> 1 through one relay, 1 KiB', { relays: 1, subscribers: 1, size: 1024 }),
  ],
}

export const pubsub2: Workload = {
  name: 'pubsub-2',
  description: '1 publisher on relay A -> 1 subscriber on relay B (NATS: two servers joined by a route), 64 B and 1 KiB',
  rows: [
    pubsubRow('pubsub-2-64', '1 -> 1 across two relays, 64 B', { relays: 2, subscribers: 1, size: 64 }),
    pubsubRow('pubsub-2-1k', '1 -> 1 across two relays, 1 KiB', { relays: 2, subscribers: 1, size: 1024 }),
  ],
}

export const fanout: Workload = {
  name: 'fanout',
  description: '1 publisher -> relay -> 4 subscribers (separate processes), 64 B; delivered = total over the 4',
  rows: [pubsubRow('fanout', '1 -> 4 through one relay, 64 B', { relays: 1, subscribers: 4, size: 64 })],
}
