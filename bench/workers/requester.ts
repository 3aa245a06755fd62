/**
 * Request/reply client (a worker process of bench/run.ts).
 *
 * --mode seq: one request at a time. Warm-up for --warmup-ms, then requests for --seconds (or
 *   --count of them, whichever comes first) whose round-trip times are reported.
 * --mode flood: --concurrency requests always in flight. Warm-up for --warmup-ms, then
 *   --seconds measured; a reply counts if it arrives inside the measured window, its latency
 *   if its request was also sent inside it.
 *
 * stdout (JSON lines): {"measuring":true} when the measured phase starts; {"progress":true,
 * "sent":N,"replies":N} about once a second; at the end {"done":true,"sent":N,"replies":N,
 * "measured":N,"seconds":s,"p50":µs,"p90":µs,"p99":µs,"p999":µs,"max":µs,"mean":µs,"errors":N,"firstError":"...",
 * "cpuSeconds":s} (counts are totals including warm-up, except measured; cpuSeconds: measured phase).
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { cpuNow, emit, wallMs } from '../lines.js'
import { connectClient, systemOf } from './client.js'
import { summarize } from './latencies.js'

const { values } = parseArgs({
  options: {
    system: { type: 'string' }, port: { type: 'string' }, cluster: { type: 'string' }, mode: { type: 'string' },
    concurrency: { type: 'string' }, 'warmup-ms': { type: 'string' }, count: { type: 'string' },
    seconds: { type: 'string' }, size: { type: 'string' }, 'timeout-ms': { type: 'string' },
  },
})
const client = await connectClient(systemOf(values.system), Number(values.port))
const cluster = values.cluster ?? 'bench'
const mode = values.mode ?? 'seq'
const concurrency = Number(values.concurrency ?? 64)
const warmupMs = Number(values['warmup-ms'] ?? 1000)
const count = Number(values.count ?? Number.MAX_SAFE_INTEGER)
const measureMs = Number(values.seconds ?? 3) * 1000
const timeoutMs = Number(values['timeout-ms'] ?? 5000)
const payload = new Uint8Array(Number(values.size ?? 64)).fill(0x62)

let sent = 0
let replies = 0
let errors = 0
let firstError = ''
const latencies: number[] = [] // µs, measured phase only
// For a closer look at the tail: BENCH_LATENCY_DUMP=FILE writes "send-time µs" per request (seq
// mode; send time in epoch ms, performance.timeOrigin + now(), to line up with other processes).
const dump = process.env['BENCH_LATENCY_DUMP']
const sentAt: number[] = []

async function one(): Promise<number> {
  const t0 = performance.now()
  sent++
  try {
    const reply = await client.request(cluster, payload, timeoutMs)
    if (reply.length !== payload.length) throw new Error(`reply of ${reply.length} bytes to a ${payload.length}-byte request`)
    replies++
  } catch (err) {
    errors++
    if (firstError === '') firstError = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }
  return (performance.now() - t0) * 1000
}

const progress = setInterval(() => emit({ progress: true, sent, replies }), 1000)
const startedAt = wallMs()
let boundaryAt = 0
let endAt = 0
let cpuAtBoundary = 0
let measured = 0

function startMeasuring(): void {
  boundaryAt = wallMs()
  cpuAtBoundary = cpuNow()
  emit({ measuring: true })
}

if (mode === 'seq') {
  while (wallMs() - startedAt < warmupMs) await one()
  startMeasuring()
  while (measured < count && wallMs() - boundaryAt < measureMs) {
    if (dump !== undefined) sentAt.push(wallMs())
    latencies.push(await one())
    measured++
  }
  endAt = wallMs()
} else if (mode === 'flood') {
  let phase: 'warmup' | 'measure' | 'stop' = 'warmup'
  const clock = setInterval(() => {
    const now = wallMs()
    if (phase === 'warmup' && now - startedAt >= warmupMs) { phase = 'measure'; startMeasuring() }
    else if (phase === 'measure' && now - boundaryAt >= measureMs) { phase = 'stop'; endAt = now }
  }, 5)
  const loop = async (): Promise<void> => {
    while (phase !== 'stop') {
      const inWindow = phase === 'measure'
      const us = await one()
      if (phase === 'measure') {
        measured++
        if (inWindow) latencies.push(us)
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  clearInterval(clock)
} else {
  throw new Error(`--mode must be seq or flood, got ${mode}`)
}
const cpuSeconds = cpuNow() - cpuAtBoundary
clearInterval(progress)
await client.close()

if (dump !== undefined && dump !== '' && mode === 'seq') writeFileSync(dump, sentAt.map((t, i) => `${t.toFixed(3)} ${latencies[i]!.toFixed(0)}`).join('\n') + '\n')
emit({ done: true, sent, replies, measured, seconds: (endAt - boundaryAt) / 1000, ...summarize(latencies), errors, firstError, cpuSeconds })
process.exit(0)
