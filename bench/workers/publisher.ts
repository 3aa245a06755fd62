/**
 * Pub/sub publisher (a worker process of bench/run.ts). Publishes `--size`-byte events to one
 * topic as fast as backpressure allows. Each payload starts with a big-endian uint32 sequence
 * number, so subscribers can check order and count what arrived after the warm-up.
 *
 * Phases: warm-up for --warmup-ms (not counted), then the measured phase until --seconds have
 * passed or --messages were sent in it. The warm-up ends on a multiple of 1024 (the clock is
 * read every 1024 messages); that sequence number is the `boundary`.
 *
 * stdout (JSON lines): {"measuring":true,"boundary":B} when the measured phase starts;
 * {"progress":true,"sent":N} about once a second; at the end
 * {"done":true,"sent":N,"boundary":B,"boundaryAt":ms,"endedAt":ms,"cpuSeconds":s}
 * (cpuSeconds: CPU used during the measured phase).
 */
import { parseArgs } from 'node:util'
import { cpuNow, emit, wallMs } from '../lines.js'
import { connectClient, systemOf } from './client.js'

const { values } = parseArgs({
  options: {
    system: { type: 'string' }, port: { type: 'string' }, topic: { type: 'string' }, size: { type: 'string' },
    'warmup-ms': { type: 'string' }, seconds: { type: 'string' }, messages: { type: 'string' },
  },
})
const client = await connectClient(systemOf(values.system), Number(values.port))
const topic = values.topic ?? 'bench'
const size = Number(values.size ?? 64)
const warmupMs = Number(values['warmup-ms'] ?? 1000)
const measureMs = Number(values.seconds ?? 3) * 1000
const maxMeasured = Number(values.messages ?? Number.MAX_SAFE_INTEGER)

const payload = new Uint8Array(Math.max(size, 4)).fill(0x61).subarray(0, size)
const view = new DataView(payload.buffer, payload.byteOffset, Math.max(size, 4))
const numbered = size >= 4

const startedAt = wallMs()
let boundary = -1
let boundaryAt = 0
let cpuAtBoundary = 0
let lastReport = startedAt
let sent = 0
for (;;) {
  if (numbered) view.setUint32(0, sent)
  const wait = client.publish(topic, payload)
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
    } else if (now - boundaryAt >= measureMs || sent - boundary >= maxMeasured) {
      break
    }
    if (now - lastReport >= 1000) {
      lastReport = now
      emit({ progress: true, sent })
    }
    // Let timers and socket events run now and then even when the socket never backs up.
    if ((sent & 16383) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}
const endedAt = wallMs()
const cpuSeconds = cpuNow() - cpuAtBoundary
await client.close() // sends what is still queued first
emit({ done: true, sent, boundary, boundaryAt, endedAt, cpuSeconds })
process.exit(0)
