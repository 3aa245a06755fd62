/**
 * Pub/sub publisher (a worker process of bench/run.ts). Publishes `--size`-byte events to one
 * topic as fast as backpressure allows, or at `--rate` events/s (a background stream). Each
 * payload starts with a big-endian uint32 sequence number, so subscribers can check order and
 * count what arrived after the warm-up; every payload has bytes of its own (payloads.ts).
 *
 * Phases: warm-up for --warmup-ms (not counted), then the measured phase until --seconds have
 * passed, --messages were sent in it, or the driver writes {"stop":true} on stdin. The warm-up
 * ends on a multiple of 1024 (the clock is read every 1024 messages); that sequence number is
 * the `boundary`.
 *
 * stdout (JSON lines): {"measuring":true,"boundary":B} when the measured phase starts;
 * {"progress":true,"sent":N} about once a second; at the end
 * {"done":true,"sent":N,"boundary":B,"boundaryAt":ms,"endedAt":ms,"cpuSeconds":s}
 * (cpuSeconds: CPU used during the measured phase).
 */
import { parseArgs } from 'node:util'
import { cpuNow, emit, onStdinJson, wallMs } from '../lines.js'
import { connectClient, systemOf } from './client.js'
import { PayloadSlab } from './payloads.js'

const { values } = parseArgs({
  options: {
    system: { type: 'string' }, port: { type: 'string' }, topic: { type: 'string' }, size: { type: 'string' },
    'warmup-ms': { type: 'string' }, seconds: { type: 'string' }, messages: { type: 'string' }, rate: { type: 'string' },
  },
})
const client = await connectClient(systemOf(values.system), Number(values.port))
const topic = values.topic ?? 'bench'
const warmupMs = Number(values['warmup-ms'] ?? 1000)
const measureMs = Number(values.seconds ?? 3) * 1000
const maxMeasured = Number(values.messages ?? Number.MAX_SAFE_INTEGER)
/** Events per second; 0: as fast as backpressure allows. */
const rate = Number(values.rate ?? 0)
const payloads = new PayloadSlab(Number(values.size ?? 64))

let stopRequested = false
onStdinJson((msg) => { if (msg['stop'] === true) stopRequested = true })

const startedAt = wallMs()
let boundary = -1
let boundaryAt = 0
let cpuAtBoundary = 0
let lastReport = startedAt
let sent = 0
for (;;) {
  // Paced: publish what the schedule says is due by now, then sleep a timer tick (~1 ms).
  // The stream's timing is not measured, only its load, so ms bursts are fine here.
  if (rate > 0 && sent >= ((wallMs() - startedAt) * rate) / 1000) {
    await new Promise((resolve) => setTimeout(resolve, 1))
    continue
  }
  const wait = client.publish(topic, payloads.next(sent))
  if (wait !== undefined) await wait
  sent++
  if ((sent & 1023) === 0) {
    const now = wallMs()
    if (boundary < 0) {
      if (now - startedAt >= warmupMs) {
        boundary = sent
        boundaryAt = now
        cpuAtBoundary = cpuNow()
        emit({ measuring: true, boundary })
      }
    } else if (now - boundaryAt >= measureMs || sent - boundary >= maxMeasured || stopRequested) {
      break
    }
    if (now - lastReport >= 1000) {
      lastReport = now
      emit({ progress: true, sent })
    }
    // Let timers, socket and stdin events run now and then even when the socket never backs up.
    if ((sent & 16383) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}
const endedAt = wallMs()
const cpuSeconds = cpuNow() - cpuAtBoundary
await client.close() // sends what is still queued first
emit({ done: true, sent, boundary, boundaryAt, endedAt, cpuSeconds })
process.exit(0)
