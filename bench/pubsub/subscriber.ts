/**
 * Pub/sub benchmark subscriber (a worker process started by bench/run.ts). Counts events on
 * one topic with a synchronous handler and checks their sequence numbers.
 *
 * stdout (JSON lines): {"ready":true} once subscribed; {"progress":true,"received":N} about once
 * a second; after the driver writes {"expect":N} on stdin, waits until N events arrived (or
 * none for --idle-ms) and prints
 * {"done":true,"received":N,"dropped":N,"outOfOrder":N,"firstAt":ms,"lastAt":ms,"cpuSeconds":s}
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { connect } from '@herald/client'
import { emit, wallMs } from '../lines.js'

const { values } = parseArgs({
  options: {
    port: { type: 'string' }, topic: { type: 'string' }, memory: { type: 'string' },
    'idle-ms': { type: 'string' },
  },
})
const port = Number(values.port)
const topic = values.topic ?? 'bench'
const memory = Number(values.memory ?? 256 * 1024 * 1024)
const idleMs = Number(values['idle-ms'] ?? 2000)

let received = 0
let outOfOrder = 0
let nextSeq = 0
let firstAt = 0
let lastAt = 0

const conn = await connect({ port })
const sub = await conn.subscribe(topic, {
  handleEvent(ev) {
    if (received === 0) firstAt = wallMs()
    received++
    lastAt = wallMs()
    if (ev.length >= 4) {
      const seq = ((ev[0]! << 24) | (ev[1]! << 16) | (ev[2]! << 8) | ev[3]!) >>> 0
      // A gap is loss (counted by the driver as sent - received); going backwards is disorder.
      if (seq < nextSeq) outOfOrder++
      else nextSeq = seq + 1
    }
  },
}, { memory })
emit({ ready: true })

const progress = setInterval(() => emit({ progress: true, received }), 1000)

const expected = await new Promise<number>((resolve) => {
  const rl = createInterface({ input: process.stdin })
  rl.on('line', (line) => {
    const msg = JSON.parse(line) as { expect?: number }
    if (typeof msg.expect === 'number') { rl.close(); resolve(msg.expect) }
  })
})

await new Promise<void>((resolve) => {
  let seen = received
  let idleSince = wallMs()
  const check = setInterval(() => {
    const now = wallMs()
    if (received !== seen) { seen = received; idleSince = now }
    if (received >= expected || now - idleSince >= idleMs) { clearInterval(check); resolve() }
  }, 20)
})
clearInterval(progress)
const { dropped } = sub.stats()
await conn.close()
const cpu = process.cpuUsage()
emit({ done: true, received, dropped, outOfOrder, firstAt, lastAt, cpuSeconds: (cpu.user + cpu.system) / 1e6 })
