/** What every benchmark workload implements, and what it reports. */

export interface WorkloadOptions {
  /** Per-flag overrides; a workload applies its own defaults for what is unset. */
  messages?: number
  seconds?: number
  size?: number
  /** A few-seconds version whose checks gate CI (exit 1 when one fails). */
  smoke: boolean
  /** Node flags for the relay process (e.g. --cpu-prof). */
  relayNodeArgs: string[]
  /** One line of progress (printed on stderr, about once a second). */
  progress(line: string): void
}

export interface Metric {
  /** Stable JSON key, e.g. "deliveredPerSec". */
  key: string
  /** Column label for tables. */
  label: string
  value: number
  unit: string
  /** Digits after the point when printed (default 0). */
  digits?: number
}

export interface WorkloadResult {
  workload: string
  params: Record<string, number | string | boolean>
  metrics: Metric[]
  /** Failed correctness checks (e.g. "lost 12 messages"); empty when all passed. */
  failures: string[]
  /** Anything worth a reader's attention that is not a failure. */
  notes: string[]
}

export interface Workload {
  name: string
  description: string
  run(options: WorkloadOptions): Promise<WorkloadResult>
}
