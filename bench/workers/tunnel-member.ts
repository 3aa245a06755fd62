/**
 * Tunnel member (a worker process of bench/run.ts; Herald only): joins --cluster, reads every
 * message of the tunnel a client opens, and checks the sequence numbers (tunnels are ordered
 * and lossless). Keeps each message's arrival time to find the measured window afterwards.
 *
 * stdin (JSON lines from the driver): {"mark":true} when the client's measured phase starts;
 * {"expect":N,"boundary":B} when the client is done. stdout: {"ready":true} once registered;
 * {"progress":true,"received":N}; {"done":true,"received":N,"measured":M,"bytes":N,
 * "windowStart":ms,"lastAt":ms,"outOfOrder":N,"cpuSeconds":s}
 */
import { parseArgs } from 'node:util'
import { register } from '@herald/client'
import { cpuNow, emit, onStdinJson, wallMs } from '../lines.js'

const { values } = parseArgs({ options: { port: { type: 'string' }, cluster: { type: 'string' }, 'idle-ms': { type: 'string' } } })
const idleMs = Number(values['idle-ms'] ?? 2000)

let received = 0
let bytes = 0
let outOfOrder = 0
let lastAt = 0
let arrivals = new Float64Array(1 << 14) // by sequence number
let sizes = new Uint32Array(1 << 14)

const svc = await register({
  port: Number(values.port),
  cluster: values.cluster ?? 'bench',
  handler: {
    async handleTunnel(tun) {
      for await (const m of tun) {
        const now = wallMs()
        const seq = m.length >= 4 ? new DataView(m.buffer, m.byteOffset, m.length).getUint32(0) : received
        if (seq !== received) outOfOrder++
        if (seq >= arrivals.length) {
          const a = new Float64Array(Math.max(seq + 1, arrivals.length * 2)); a.set(arrivals); arrivals = a
          const s = new Uint32Array(a.length); s.set(sizes); sizes = s
        }
        arrivals[seq] = now
        sizes[seq] = m.length
        received++
        bytes += m.length
        lastAt = now
      }
    },
  },
})
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
let measuredBytes = 0
const from = Math.max(0, expect.boundary)
for (let s = from; s < Math.min(received, arrivals.length); s++) {
  if (arrivals[s] === 0) continue
  measured++
  measuredBytes += sizes[s]!
}
const windowStart = arrivals[from] !== undefined && arrivals[from] !== 0 ? arrivals[from]! : lastAt
emit({ done: true, received, measured, bytes, measuredBytes, windowStart, lastAt, outOfOrder, cpuSeconds })
void svc.close().finally(() => process.exit(0))
setTimeout(() => process.exit(0), 2000).unref()
