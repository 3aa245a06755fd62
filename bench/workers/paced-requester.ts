/**
 * Open-loop request client (a worker process of bench/run.ts): sends 64-byte requests at a
 * fixed --rate per second whatever the replies do, and times each from its *scheduled* send
 * time, so a stall anywhere (server, link, this client) counts for every request that should
 * have gone out during it (no coordinated omission). Request i is due at t0 + i / rate; a
 * worker thread (PACER) wakes this one at each due time, and everything due is sent then.
 *
 * Warm-up for --warmup-ms at the same rate (not counted), then --seconds measured; afterwards
 * it waits for every reply (or its --timeout-ms).
 *
 * stdout (JSON lines): {"measuring":true} when the first measured request is sent;
 * {"progress":true,"sent":N,"replies":N} about once a second; at the end {"done":true,
 * "sent":N,"replies":N,"measured":N,"seconds":s,"p50":µs,...,"service":{...},"lag":{...},
 * "errors":N,"firstError":"...","cpuSeconds":s}: latency from the schedule (p50...), from the
 * actual send (service), and the send's lag behind the schedule (lag), measured requests only.
 */
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { cpuNow, emit, hrMs } from '../lines.js'
import { connectClient, systemOf } from './client.js'
import { summarize } from './latencies.js'

const { values } = parseArgs({
  options: {
    system: { type: 'string' }, port: { type: 'string' }, cluster: { type: 'string' }, rate: { type: 'string' },
    'warmup-ms': { type: 'string' }, seconds: { type: 'string' }, size: { type: 'string' }, 'timeout-ms': { type: 'string' },
  },
})
const client = await connectClient(systemOf(values.system), Number(values.port))
const cluster = values.cluster ?? 'bench'
const rate = Number(values.rate ?? 5000)
const timeoutMs = Number(values['timeout-ms'] ?? 5000)
const payload = new Uint8Array(Number(values.size ?? 64)).fill(0x62)
const intervalMs = 1000 / rate
const firstMeasured = Math.ceil((Number(values['warmup-ms'] ?? 1000) / 1000) * rate)
const total = firstMeasured + Math.round(Number(values.seconds ?? 3) * rate)

let sent = 0
let replies = 0
let errors = 0
let firstError = ''
let cpuAtBoundary = 0
const fromSchedule: number[] = []
const fromSend: number[] = []
const lag: number[] = []

const t0 = hrMs() + 20
const progress = setInterval(() => emit({ progress: true, sent, replies }), 1000)
let settled!: () => void
const allSettled = new Promise<void>((resolve) => { settled = resolve })

function send(i: number): void {
  const due = t0 + i * intervalMs
  const at = hrMs()
  if (i === firstMeasured) {
    cpuAtBoundary = cpuNow()
    emit({ measuring: true })
  }
  sent++
  client.request(cluster, payload, timeoutMs).then((reply) => {
    const end = hrMs()
    if (reply.length !== payload.length) throw new Error(`reply of ${reply.length} bytes to a ${payload.length}-byte request`)
    replies++
    if (i >= firstMeasured) {
      fromSchedule.push((end - due) * 1000)
      fromSend.push((end - at) * 1000)
      lag.push((at - due) * 1000)
    }
  }).catch((err: unknown) => {
    errors++
    if (firstError === '') firstError = err instanceof Error ? `${err.name}: ${err.message}` : String(err)
  }).finally(() => {
    if (sent === total && replies + errors === total) settled()
  })
}

/**
 * The clock, in a worker thread: posts i to this thread at request i's due time (hrMs clock).
 * Why a thread: Node's timers have a 1 ms resolution, so a timer here fires up to 1 ms after a
 * due time, and that delay would be counted in every latency measured from the schedule
 * (~0.5 ms at the median: more than a round trip). Atomics.wait sleeps with sub-millisecond
 * precision in a thread that does nothing else, and its message wakes this thread at once; the
 * lag that remains is measured (`lag`) and counted. Plain JavaScript: tsx does not load a
 * TypeScript worker entry.
 */
const PACER = `
const { parentPort, workerData: { t0, intervalMs, count } } = require('node:worker_threads')
const hrMs = () => Number(process.hrtime.bigint()) / 1e6
const sleeper = new Int32Array(new SharedArrayBuffer(4))
for (let i = 0; i < count; i++) {
  // Loop: a wait may return a hair early, and nothing is due before the due time.
  let wait
  while ((wait = t0 + i * intervalMs - hrMs()) > 0) Atomics.wait(sleeper, 0, 0, wait)
  parentPort.postMessage(i)
}`

let next = 0
const pacer = new Worker(PACER, { eval: true, workerData: { t0, intervalMs, count: total } })
pacer.on('message', () => {
  // Everything due by now: after a stall of this thread, the backlog goes out at once, and
  // each request still counts from its own due time.
  const now = hrMs()
  while (next < total && t0 + next * intervalMs <= now) send(next++)
})
pacer.on('error', (err) => { console.error(err); process.exit(1) })
await allSettled
const cpuSeconds = cpuNow() - cpuAtBoundary
clearInterval(progress)
await pacer.terminate()
await client.close()

const measured = fromSchedule.length
emit({
  done: true, sent, replies, measured, seconds: (total - firstMeasured) / rate, ...summarize(fromSchedule),
  service: summarize(fromSend), lag: summarize(lag), errors, firstError, cpuSeconds,
})
process.exit(0)
