/**
 * Pub/sub subscriber (a worker process of bench/run.ts). Counts events on one topic with a
 * synchronous handler, checks their sequence numbers, and keeps, per block of 1024 sequence
 * numbers, how many arrived and when the first did — so that once the driver says where the
 * publisher's warm-up ended, it can count the measured events and their arrival window.
 *
 * stdin (JSON lines from the driver): {"mark":true} when the publisher's measured phase starts
 * (CPU is counted from there); {"expect":N,"boundary":B} when the publisher is done.
 * stdout: {"ready":true} once subscribed; {"progress":true,"received":N} about once a second;
 * after "expect", once N events arrived (or none for --idle-ms):
 * {"done":true,"received":N,"measured":M,"windowStart":ms,"lastAt":ms,"dropped":N,"outOfOrder":N,"cpuSeconds":s}
 */
import { parseArgs } from 'node:util'
import { cpuNow, emit, onStdinJson, wallMs } from '../lines.js'
import { connectClient, systemOf } from './client.js'

const { values } = parseArgs({
  options: {
    system: { type: 'string' }, port: { type: 'string' }, topic: { type: 'string' },
    memory: { type: 'string' }, 'idle-ms': { type: 'string' },
  },
})
const topic = values.topic ?? 'bench'
const memory = Number(values.memory ?? 256 * 1024 * 1024)
const idleMs = Number(values['idle-ms'] ?? 2000)

let received = 0
let outOfOrder = 0
let nextSeq = 0
let lastAt = 0
let blockCount = new Uint32Array(4096)
let blockFirstAt = new Float64Array(4096)

function onEvent(ev: Uint8Array): void {
  const now = wallMs()
  received++
  lastAt = now
  if (ev.length < 4) return
  const seq = ((ev[0]! << 24) | (ev[1]! << 16) | (ev[2]! << 8) | ev[3]!) >>> 0
  // A gap is loss (counted by the driver as sent - received); going backwards is disorder.
  if (seq < nextSeq) outOfOrder++
  else nextSeq = seq + 1
  const b = seq >>> 10
  if (b >= blockCount.length) {
    const n = Math.max(b + 1, blockCount.length * 2)
    const c = new Uint32Array(n); c.set(blockCount); blockCount = c
    const f = new Float64Array(n); f.set(blockFirstAt); blockFirstAt = f
  }
  if (blockCount[b] === 0) blockFirstAt[b] = now
  blockCount[b]!++
}

const client = await connectClient(systemOf(values.system), Number(values.port))
const sub = await client.subscribe(topic, onEvent, memory)
emit({ ready: true })
const progress = setInterval(() => emit({ progress: true, received }), 1000)

let cpuAtMark = 0
const expect = await new Promise<{ expect: number; boundary: number }>((resolve) => {
  onStdinJson((msg) => {
    if (msg['mark'] === true) cpuAtMark = cpuNow()
    if (typeof msg['expect'] === 'number') resolve(msg as unknown as { expect: number; boundary: number })
  })
})

await new Promise<void>((resolve) => {
  let seen = received
  let idleSince = wallMs()
  const check = setInterval(() => {
    const now = wallMs()
    if (received !== seen) { seen = received; idleSince = now }
    if (received >= expect.expect || now - idleSince >= idleMs) { clearInterval(check); resolve() }
  }, 5)
})
const cpuSeconds = cpuNow() - cpuAtMark
clearInterval(progress)

let measured = 0
let windowStart = Infinity
for (let b = Math.max(0, expect.boundary) >>> 10; b < blockCount.length; b++) {
  if (blockCount[b] === 0) continue
  measured += blockCount[b]!
  windowStart = Math.min(windowStart, blockFirstAt[b]!)
}
const dropped = sub.dropped()
await client.close()
emit({ done: true, received, measured, windowStart: Number.isFinite(windowStart) ? windowStart : lastAt, lastAt, dropped, outOfOrder, cpuSeconds })
process.exit(0)
