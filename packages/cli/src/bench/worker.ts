/**
 * One client of `herald bench`, in its own thread (so that several of them use several cores,
 * as nats bench's goroutines do): a publisher, a subscriber, a requester or an echo member.
 * It reports progress through shared counters and its figures once done.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { connect, register, type Connection } from '@herald/client'
import { LatencyRecorder } from './latency.js'
import type { WorkerMessage, WorkerResult, WorkerTask } from './plan.js'

const task = workerData as WorkerTask
const port = parentPort!
const counters = new Float64Array(task.counters)
/** Milliseconds on a clock every thread of the process shares (performance.now() is per thread). */
const now = (): number => performance.timeOrigin + performance.now()
const say = (m: WorkerMessage): void => port.postMessage(m)
/** Resolves on the main thread's next message of this type. */
const heard = <T extends { type: string }>(type: T['type']): Promise<T> =>
  new Promise((resolve) => {
    const on = (m: T): void => { if (m.type === type) { port.off('message', on); resolve(m) } }
    port.on('message', on)
  })

const rec = new LatencyRecorder()
let count = 0
/** Payload bytes of what `count` counts (a subscriber's events may be of any size). */
let bytes = 0
let failed = 0
let firstAt = 0
let lastAt = 0
const tick = (size: number): void => {
  const t = now()
  bytes += size
  if (count++ === 0) firstAt = t
  lastAt = t
  counters[task.index * 2] = count
}
const result = (): WorkerResult => ({ role: task.role, count, bytes, failed, firstAt, lastAt, latencies: rec.take(), maxUs: rec.maxUs })

function payload(): { bytes: Uint8Array; stamp: () => void } {
  const bytes = new Uint8Array(task.size)
  const dv = new DataView(bytes.buffer)
  // A payload of 8 bytes or more carries its send time: subscribers measure the latency.
  return { bytes, stamp: task.size >= 8 ? () => dv.setFloat64(0, now()) : () => {} }
}

/** Whether a sender goes on: its share of messages, or until its time is up. */
function budget(): () => boolean {
  if (task.msgs !== undefined) {
    let left = task.msgs
    return () => left-- > 0
  }
  const end = now() + task.seconds! * 1000
  return () => now() < end
}

async function publisher(conn: Connection): Promise<void> {
  const { bytes, stamp } = payload()
  const more = budget()
  while (more()) {
    stamp()
    await conn.publish(task.name, bytes)
    tick(bytes.length)
  }
}

async function requester(conn: Connection): Promise<void> {
  const { bytes } = payload()
  const more = budget()
  await Promise.all(Array.from({ length: task.concurrency }, async () => {
    while (more()) {
      const t0 = now()
      try {
        await conn.request(task.name, bytes, { timeoutMs: 10_000 })
        rec.add((now() - t0) * 1000)
        tick(bytes.length)
      } catch {
        failed++
        counters[task.index * 2 + 1] = failed
      }
    }
  }))
}

async function subscriber(conn: Connection): Promise<void> {
  // Alone (`herald bench sub`), it counts to --msgs or for --duration from its first event;
  // beside publishers (`herald bench pub`), it is told how many were published.
  const alone = task.msgs !== undefined || task.seconds !== undefined
  let expected = task.msgs ?? Infinity
  let told = false
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => { done = resolve })
  const sub = await conn.subscribe(task.name, {
    handleEvent: (ev) => {
      if (ev.length >= 8 && task.size >= 8) rec.add((now() - new DataView(ev.buffer, ev.byteOffset, 8).getFloat64(0)) * 1000)
      tick(ev.length)
      if (count >= expected) done()
    },
  }, { memory: 256 * 1024 * 1024 })
  say({ type: 'ready' })
  void heard<{ type: 'stop'; expected: number }>('stop').then((m) => {
    expected = m.expected
    told = true
    if (count >= expected) done()
  })
  // Pub/sub is best effort: once nothing more arrives for 2 s, what is missing is lost.
  let seen = -1
  const idle = setInterval(() => {
    if (task.seconds !== undefined && count > 0 && now() - firstAt >= task.seconds * 1000) done()
    if ((told || (alone && count > 0)) && count === seen) done()
    seen = count
  }, 2000)
  await finished
  clearInterval(idle)
  failed = sub.dropped
  await sub.unsubscribe().catch(() => {})
}

async function replier(): Promise<void> {
  const svc = await register({
    port: task.port, cluster: task.name, limits: { requestConcurrency: 4096 },
    handler: { handleRequest: (req) => { tick(req.length); return req } },
  })
  say({ type: 'ready' })
  await heard('stop')
  await svc.close()
}

async function main(): Promise<void> {
  if (task.role === 'replier') return replier()
  const conn = await connect({ port: task.port })
  try {
    if (task.role === 'subscriber') return await subscriber(conn)
    say({ type: 'ready' })
    await heard('start')
    await (task.role === 'publisher' ? publisher(conn) : requester(conn))
  } finally {
    await conn.close().catch(() => {})
  }
}

main().then(
  () => say({ type: 'done', result: result() }),
  (err: unknown) => say({ type: 'error', message: err instanceof Error ? err.message : String(err) }),
)
