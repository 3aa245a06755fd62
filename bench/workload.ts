/** What every benchmark workload implements, and what it reports. */
import type { System } from './workers/client.js'

export type { System }

export interface RunOptions {
  /** A few-seconds version whose checks gate CI (exit 1 when one fails). */
  smoke: boolean
  /** Warm-up before measuring (not counted), in milliseconds. */
  warmupMs: number
  /** Length of the measured phase, in seconds. */
  seconds: number
  /** Cap on messages in the measured phase (pub/sub, tunnels), if any. */
  messages?: number
  /** Cap on sequential requests in the measured phase (request-seq), if any. */
  requests?: number
  /** Offered request rate of the latency rows, per second. */
  rate: number
  /** Rate of the latency rows' background pub/sub stream, events per second. */
  streamRate: number
  /** Node flags for Herald relays (e.g. --cpu-prof). */
  relayNodeArgs: string[]
  /** More `herald relay` arguments for Herald relays (e.g. --metrics HOST:PORT); none by default. */
  relayArgs?: string[]
  /** Prefix for progress lines, e.g. "pubsub-1-64 herald #2". */
  label: string
  /** One line of progress (printed on stderr, about once a second). */
  progress(line: string): void
}

export interface Metric {
  /** Stable JSON key, e.g. "deliveredPerSec". */
  key: string
  /** Row label in tables. */
  label: string
  value: number
  unit: string
  /** Digits after the point when printed (default 0). */
  digits?: number
}

/** One run of one row against one system. */
export interface RunResult {
  metrics: Metric[]
  /** Failed correctness checks (e.g. "lost 12 messages"); empty when all passed. */
  failures: string[]
  /** Anything worth a reader's attention that is not a failure. */
  notes: string[]
}

/** One line of the final table: a workload at one setting (e.g. pubsub-1 at 64 B). */
export interface Row {
  name: string
  description: string
  /** The systems it runs against (NATS only when nats-server is installed). */
  systems: System[]
  /** Why there is no NATS run, when there is none. */
  noNats?: string
  /** The metric the summary table shows for this row (its key), and how to read its ratio. */
  headline: string[]
  params(opts: RunOptions): Record<string, number | string | boolean>
  run(system: System, opts: RunOptions): Promise<RunResult>
}

/** A workload as named on the command line: one or more rows. */
export interface Workload {
  name: string
  description: string
  rows: Row[]
}
