/**
 * Tunnel client (a worker process of bench/run.ts; Herald only — NATS has no equivalent).
 * Opens a tunnel to --cluster and sends --size-byte messages (a big-endian uint32 sequence
 * number first) as fast as the receiver's allowance lets it: warm-up for --warmup-ms, then
 * --seconds (or --messages) measured.
 *
 * stdout (JSON lines): {"ready":true} once the tunnel is open; {"measuring":true,"boundary":B};
 * {"progress":true,"sent":N}; {"done":true,"sent":N,"boundary":B,"boundaryAt":ms,"endedAt":ms,
 * "cpuSeconds":s}. Then it keeps the tunnel open until the driver writes {"exit":true}.
 */
import { parseArgs } from 'node:util'
import { connect } from '@herald/client'
import { cpuNow, emit, onStdinJson, wallMs } from '../lines.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, cluster: { type: 'string' }, size: { type: 'string' },
    'warmup-ms': { type: 'string' }, seconds: { type: 'string' }, messages: { type: 'string' },
  },
})
const size = Math.max(4, Number(values.size ?? 65536))
const warmupMs = Number(values['warmup-ms'] ?? 1000)
const measureMs = Number(values.seconds ?? 3) * 1000
const maxMeasured = Number(values.messages ?? Number.MAX_SAFE_INTEGER)

const conn = await connect({ port: Number(values.port) })
const tun = await conn.tunnel(values.cluster ?? 'bench', { timeoutMs: 10_000 })
emit({ ready: true })
onStdinJson((msg) => {
  if (msg['exit'] === true) void tun.close().then(() => conn.close()).finally(() => process.exit(0))
})

const startedAt = wallMs()
let boundary = -1
let boundaryAt = 0
let cpuAtBoundary = 0
let lastReport = startedAt
let sent = 0
for (;;) {
  // A fresh buffer per message: the SDK may hold on to a queued payload.
  const payload = new Uint8Array(size).fill(0x74)
  new DataView(payload.buffer).setUint32(0, sent)
  await tun.send(payload, { timeoutMs: 30_000 })
  sent++
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
}
const endedAt = wallMs()
emit({ done: true, sent, boundary, boundaryAt, endedAt, cpuSeconds: cpuNow() - cpuAtBoundary })
