/** What `herald bench` runs, what each worker thread is told, and what it reports. */

export type BenchPattern = 'pub' | 'sub' | 'request'

export interface BenchPlan {
  pattern: BenchPattern
  /** The topic (pub, sub) or cluster (request). */
  name: string
  port: number
  publishers: number
  subscribers: number
  clients: number
  concurrency: number
  /** Echo members the bench starts itself (request). */
  repliers: number
  size: number
  /** Messages (pub: in all, split among publishers; sub: per subscriber; request: in all), or undefined with `seconds`. */
  msgs: number | undefined
  seconds: number | undefined
}

export type WorkerRole = 'publisher' | 'subscriber' | 'requester' | 'replier'

export interface WorkerTask {
  role: WorkerRole
  index: number
  port: number
  name: string
  size: number
  /** Messages this worker sends (publisher, requester), or expects at least (subscriber). */
  msgs: number | undefined
  seconds: number | undefined
  concurrency: number
  /** Shared counters: [index * 2] done (sent, received, answered), [index * 2 + 1] failed or dropped. */
  counters: SharedArrayBuffer
}

/** Sent by a worker: ready (subscribed, registered), then done with its figures. */
export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'done'; result: WorkerResult }
  | { type: 'error'; message: string }

export interface WorkerResult {
  role: WorkerRole
  /** Messages sent (publisher), received (subscriber), answered (requester, replier). */
  count: number
  /** Their payload bytes (a subscriber's, as received: the publisher's size, not its own --size). */
  bytes: number
  /** Failed requests, or events the subscriber's connection dropped. */
  failed: number
  /** From the first message to the last, ms (performance.now() of this process: shared by every worker). */
  firstAt: number
  lastAt: number
  /** Latency samples, µs (a reservoir of at most LATENCY_SAMPLES), and the exact maximum. */
  latencies: Float64Array
  maxUs: number
}

/** Latency samples kept per worker (reservoir sampling past it). */
export const LATENCY_SAMPLES = 100_000
