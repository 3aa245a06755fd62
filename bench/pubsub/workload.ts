/**
 * pubsub: one relay process, one publisher process -> one subscriber process, one topic.
 * Measures what a single publisher can push through a relay to a single fast subscriber.
 */
import { join } from 'node:path'
import { ROOT, killAll, spawnNode, startRelay, type Proc } from '../../test/harness.js'
import { onJsonLines } from '../lines.js'
import { RssSampler, cpuSecondsOf } from '../proc-stats.js'
import type { Workload, WorkloadOptions, WorkloadResult } from '../workload.js'

const TSX = ['--import', 'tsx']
const SUBSCRIPTION_MEMORY = 256 * 1024 * 1024
const TOPIC = 'bench.pubsub'

interface PublisherDone { sent: number; startedAt: number; endedAt: number; cpuSeconds: number }
interface SubscriberDone { received: number; dropped: number; outOfOrder: number; firstAt: number; lastAt: number; cpuSeconds: number }

function worker(script: string, args: string[]): Proc {
  return spawnNode(join(ROOT, 'bench/pubsub', script), args, { nodeArgs: TSX })
}

/** Resolves with the worker's {"done":true,...} line; rejects if it exits without one. */
function doneOf<T>(proc: Proc, name: string, onProgress: (msg: Record<string, unknown>) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    onJsonLines(proc, (msg) => {
      if (msg['done'] === true) resolve(msg as unknown as T)
      else if (msg['progress'] === true) onProgress(msg)
    })
    void proc.exited.then((code) => reject(new Error(`${name} exited (${String(code)}) before finishing\n${proc.stderr()}`)))
  })
}

const fmtRate = (n: number): string => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : `${(n / 1e3).toFixed(0)}k`)

export const pubsub: Workload = {
  name: 'pubsub',
  description: '1 publisher process -> relay -> 1 subscriber process, one topic, fire-and-forget events',

  async run(opts: WorkloadOptions): Promise<WorkloadResult> {
    const messages = opts.messages ?? (opts.smoke ? 20_000 : 1_000_000)
    const seconds = opts.seconds ?? (opts.smoke ? 10 : 15)
    const size = opts.size ?? 64
    const params = { messages, seconds, size, subscriptionMemory: SUBSCRIPTION_MEMORY, smoke: opts.smoke }

    const relay = await startRelay([], { nodeArgs: opts.relayNodeArgs })
    let ticker: ReturnType<typeof setInterval> | undefined
    try {
      const rss = new RssSampler(relay.pid)
      const relayCpu0 = cpuSecondsOf(relay.pid)

      const subscriber = worker('subscriber.ts', ['--port', String(relay.port), '--topic', TOPIC, '--memory', String(SUBSCRIPTION_MEMORY)])
      await subscriber.waitFor(/^\{"ready":true\}$/m, 30_000)

      let sentSoFar = 0
      let receivedSoFar = 0
      const subDone = doneOf<SubscriberDone>(subscriber, 'subscriber', (m) => { receivedSoFar = Number(m['received']) })
      subDone.catch(() => {}) // awaited below; this only keeps an early failure from going unhandled
      const publisher = worker('publisher.ts', ['--port', String(relay.port), '--topic', TOPIC,
        '--messages', String(messages), '--seconds', String(seconds), '--size', String(size)])
      const pubDone = doneOf<PublisherDone>(publisher, 'publisher', (m) => { sentSoFar = Number(m['sent']) })

      // Progress: a line per second, from the workers' own counters and the relay's /proc.
      const t0 = Date.now()
      let last = { t: t0, sent: 0, received: 0, cpu: relayCpu0 }
      ticker = setInterval(() => {
        const now = Date.now()
        let cpu = last.cpu
        try { cpu = cpuSecondsOf(relay.pid) } catch { /* exited */ }
        const dt = (now - last.t) / 1000
        opts.progress(`pubsub ${((now - t0) / 1000).toFixed(0).padStart(3)}s  ` +
          `sent ${sentSoFar.toLocaleString('en-US').padStart(11)} (${fmtRate((sentSoFar - last.sent) / dt)}/s)  ` +
          `delivered ${receivedSoFar.toLocaleString('en-US').padStart(11)} (${fmtRate((receivedSoFar - last.received) / dt)}/s)  ` +
          `relay cpu ${(((cpu - last.cpu) / dt) * 100).toFixed(0)}%  rss ${(rss.last / 2 ** 20).toFixed(0)} MiB`)
        last = { t: now, sent: sentSoFar, received: receivedSoFar, cpu }
      }, 1000)

      const pub = await pubDone
      subscriber.child.stdin!.write(JSON.stringify({ expect: pub.sent }) + '\n')
      const sub = await subDone
      clearInterval(ticker)
      const relayCpu = cpuSecondsOf(relay.pid) - relayCpu0
      const peakRss = rss.stop()

      // Rates over the publisher's clock: from its first publish to its last publish (sent),
      // and to the subscriber's last event (delivered), i.e. including the time to drain.
      const sendSeconds = (pub.endedAt - pub.startedAt) / 1000
      const deliverSeconds = sub.received > 0 ? (sub.lastAt - pub.startedAt) / 1000 : sendSeconds
      const loss = pub.sent - sub.received
      const failures: string[] = []
      const notes: string[] = []
      if (loss !== 0) failures.push(`lost ${loss} of ${pub.sent} messages (subscriber reports ${sub.dropped} dropped)`)
      if (sub.outOfOrder !== 0) failures.push(`${sub.outOfOrder} messages arrived out of publish order`)
      if (pub.sent < messages) notes.push(`stopped by the ${seconds} s limit after ${pub.sent} of ${messages} messages`)

      return {
        workload: 'pubsub',
        params,
        metrics: [
          { key: 'sent', label: 'sent', value: pub.sent, unit: 'msgs' },
          { key: 'sentPerSec', label: 'sent msg/s', value: pub.sent / sendSeconds, unit: 'msg/s' },
          { key: 'deliveredPerSec', label: 'delivered msg/s', value: sub.received / deliverSeconds, unit: 'msg/s' },
          { key: 'deliveredMiBPerSec', label: 'delivered MiB/s', value: (sub.received * size) / deliverSeconds / 2 ** 20, unit: 'MiB/s', digits: 1 },
          { key: 'loss', label: 'loss', value: loss, unit: 'msgs' },
          { key: 'seconds', label: 'seconds', value: deliverSeconds, unit: 's', digits: 2 },
          { key: 'relayCpuSeconds', label: 'relay CPU s', value: relayCpu, unit: 's', digits: 2 },
          { key: 'relayPeakRssMiB', label: 'relay peak RSS MiB', value: peakRss / 2 ** 20, unit: 'MiB', digits: 0 },
          { key: 'publisherCpuSeconds', label: 'publisher CPU s', value: pub.cpuSeconds, unit: 's', digits: 2 },
          { key: 'subscriberCpuSeconds', label: 'subscriber CPU s', value: sub.cpuSeconds, unit: 's', digits: 2 },
        ],
        failures,
        notes,
      }
    } finally {
      clearInterval(ticker)
      // SIGTERM first: the relay stops gracefully, which also lets --cpu-prof write its profile.
      relay.kill('SIGTERM')
      const timer = setTimeout(() => relay.kill('SIGKILL'), 5_000)
      await relay.exited
      clearTimeout(timer)
      await killAll()
    }
  },
}
