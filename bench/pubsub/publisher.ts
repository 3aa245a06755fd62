/**
 * Pub/sub benchmark publisher (a worker process started by bench/run.ts). Publishes `size`-byte
 * events to one topic as fast as backpressure allows: `await conn.publish()` is an already
 * resolved promise unless the socket is backed up. Each payload starts with a big-endian
 * uint32 sequence number, so the subscriber can check order and gaps.
 *
 * stdout (JSON lines): {"progress":true,"sent":N} about once a second, then
 * {"done":true,"sent":N,"startedAt":ms,"endedAt":ms,"cpuSeconds":s}
 */
import { parseArgs } from 'node:util'
import { connect } from '@herald/client'
import { emit, wallMs } from '../lines.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, topic: { type: 'string' },
    messages: { type: 'string' }, seconds: { type: 'string' }, size: { type: 'string' },
  },
})
const port = Number(values.port)
const topic = values.topic ?? 'bench'
const messages = Number(values.messages ?? 1_000_000)
const seconds = Number(values.seconds ?? 15)
const size = Number(values.size ?? 64)

const conn = await connect({ port })
// The SDK copies the payload into its write batch, so one buffer can be reused and renumbered.
const payload = new Uint8Array(size).fill(0x61)
const view = new DataView(payload.buffer)
const numbered = size >= 4

const startedAt = wallMs()
const deadline = startedAt + seconds * 1000
let lastReport = startedAt
let sent = 0
while (sent < messages) {
  if (numbered) view.setUint32(0, sent)
  await conn.publish(topic, payload)
  sent++
  if ((sent & 1023) === 0) {
    const now = wallMs()
    if (now >= deadline) break
    if (now - lastReport >= 1000) {
      lastReport = now
      emit({ progress: true, sent })
    }
    // Let timers and socket events run now and then even when the socket never backs up.
    if ((sent & 16383) === 0) await new Promise((resolve) => setImmediate(resolve))
  }
}
const endedAt = wallMs()
await conn.close() // sends what is still queued first
const cpu = process.cpuUsage()
emit({ done: true, sent, startedAt, endedAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 })
