import { Worker } from 'node:worker_threads'
import type { BenchPlan, WorkerMessage, WorkerResult, WorkerRole, WorkerTask } from './plan.js'
import { Progress } from './progress.js'
import { rowOf, type BenchReport } from './report.js'

interface Running {
  role: WorkerRole
  worker: Worker
  ready: Promise<void>
  done: Promise<WorkerResult>
}

/** Splits `total` into `n` shares that differ by one at most. */
function shares(total: number, n: number): number[] {
  return Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0))
}

/**
 * Runs a bench: echo members and subscribers first (each in its own thread, ready once
 * registered or subscribed), then publishers or requesters, all started at once; progress on
 * stderr while they run; the figures of every role at the end.
 */
export async function runBench(plan: BenchPlan, opts: { progress: boolean }): Promise<BenchReport> {
  const roles: Array<[WorkerRole, number]> = plan.pattern === 'request'
    ? [['replier', plan.repliers], ['requester', plan.clients]]
    : plan.pattern === 'pub' ? [['subscriber', plan.subscribers], ['publisher', plan.publishers]] : [['subscriber', plan.subscribers]]
  const total = roles.reduce((n, [, k]) => n + k, 0)
  const counters = new SharedArrayBuffer(8 * 2 * total)
  const view = new Float64Array(counters)
  const running: Running[] = []
  const senders = plan.pattern === 'pub' ? plan.publishers : plan.clients
  const split = plan.msgs !== undefined ? shares(plan.msgs, Math.max(1, senders)) : []
  const start = (role: WorkerRole, k: number): Running => {
    const index = running.length
    const sender = role === 'publisher' || role === 'requester'
    const task: WorkerTask = {
      role, index, port: plan.port, name: plan.name, size: plan.size, concurrency: plan.concurrency, counters,
      // Subscribers of `pub` are told the count at the end; alone (`sub`), they count to --msgs.
      msgs: sender ? split[k] : role === 'subscriber' && plan.pattern === 'sub' ? plan.msgs : undefined,
      seconds: sender || plan.pattern === 'sub' ? plan.seconds : undefined,
    }
    const worker = new Worker(new URL('./worker.js', import.meta.url), { workerData: task })
    let ready!: () => void
    const r: Running = {
      role, worker,
      ready: new Promise<void>((resolve) => { ready = resolve }),
      done: new Promise<WorkerResult>((resolve, reject) => {
        worker.on('message', (m: WorkerMessage) => {
          if (m.type === 'ready') ready()
          else if (m.type === 'done') resolve(m.result)
          else reject(new Error(`${role} ${k + 1}: ${m.message}`))
        })
        worker.on('error', (err) => reject(new Error(`${role} ${k + 1}: ${err.message}`)))
        worker.on('exit', (code) => reject(new Error(`${role} ${k + 1} ended (code ${code})`)))
      }),
    }
    r.done.catch(() => {}) // awaited below; this only keeps an early failure from being "unhandled"
    running.push(r)
    return r
  }
  const of = (role: WorkerRole): Running[] => running.filter((r) => r.role === role)
  const sum = (role: WorkerRole): number => of(role).reduce((n, r) => n + view[running.indexOf(r) * 2]!, 0)

  let progress: Progress | undefined
  let timer: ReturnType<typeof setInterval> | undefined
  try {
    for (const [role, n] of roles) {
      for (let k = 0; k < n; k++) start(role, k)
      // A worker that fails while starting fails the bench here, rather than leaving it waiting.
      await Promise.all(of(role).map((r) => Promise.race([r.ready, r.done.then(() => { throw new Error(`a ${role} ended before it was ready`) })])))
    }
    const timed = plan.msgs === undefined
    if (opts.progress) {
      progress = new Progress(timed ? plan.seconds! : plan.pattern === 'sub' ? plan.msgs! * plan.subscribers : plan.msgs!, timed)
      for (const [role] of roles) if (role !== 'replier') progress.add(role === 'requester' ? 'requests' : `${role}s`, () => sum(role))
    }
    const t0 = Date.now()
    timer = setInterval(() => progress?.update((Date.now() - t0) / 1000), 200)
    for (const r of running) r.worker.postMessage({ type: 'start' })
    const sending = [...of('publisher'), ...of('requester')]
    const sent = await Promise.all(sending.map((r) => r.done))
    const published = sent.filter((x) => x.role === 'publisher').reduce((n, x) => n + x.count, 0)
    // Beside publishers, subscribers are told how many to expect; alone (sub) they count to --msgs.
    if (plan.pattern === 'pub') for (const r of of('subscriber')) r.worker.postMessage({ type: 'stop', expected: published })
    const received = await Promise.all(of('subscriber').map((r) => r.done))
    for (const r of of('replier')) r.worker.postMessage({ type: 'stop' })
    const served = await Promise.all(of('replier').map((r) => r.done))
    progress?.update((Date.now() - t0) / 1000)
    const rows = [
      ...(sent.some((x) => x.role === 'publisher') ? [rowOf('publisher', sent.filter((x) => x.role === 'publisher'))] : []),
      ...(received.length > 0 ? [rowOf('subscriber', received, plan.pattern === 'pub' ? published : plan.msgs)] : []),
      ...(sent.some((x) => x.role === 'requester') ? [rowOf('requester', sent.filter((x) => x.role === 'requester'))] : []),
      ...(served.length > 0 ? [rowOf('replier', served)] : []),
    ]
    return { pattern: plan.pattern, name: plan.name, size: plan.size, msgs: plan.msgs ?? null, seconds: plan.seconds ?? null, rows }
  } finally {
    clearInterval(timer)
    progress?.stop()
    await Promise.all(running.map((r) => r.worker.terminate()))
  }
}
