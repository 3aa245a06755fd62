import { merged, quantile } from './latency.js'
import type { BenchPlan, WorkerResult, WorkerRole } from './plan.js'

/** One line of the final table: every worker of one role together. */
export interface BenchRow {
  role: 'publishers' | 'subscribers' | 'requests' | 'members'
  clients: number
  /** Messages sent, received, or requests answered (members: requests served). */
  count: number
  /** From the first message of any worker to the last. */
  seconds: number
  msgsPerSec: number
  mibPerSec: number
  /** Latency: of requests (round trip), or of events (publish to delivery); undefined when not measured. */
  p50Us: number | undefined
  p99Us: number | undefined
  maxUs: number | undefined
  /** Subscribers: events published and not received; requests: failures. */
  lost?: number
  failed?: number
  /** Per client: the slowest and fastest rate. */
  minPerClient: number
  maxPerClient: number
}

export interface BenchReport {
  pattern: BenchPlan['pattern']
  name: string
  size: number
  msgs: number | null
  seconds: number | null
  rows: BenchRow[]
}

const ROLE_ROW: Record<WorkerRole, BenchRow['role']> = { publisher: 'publishers', subscriber: 'subscribers', requester: 'requests', replier: 'members' }

export function rowOf(role: WorkerRole, results: WorkerResult[], expectedEach?: number): BenchRow {
  const active = results.filter((r) => r.count > 0)
  const first = Math.min(...active.map((r) => r.firstAt))
  const last = Math.max(...active.map((r) => r.lastAt))
  const seconds = active.length === 0 ? 0 : Math.max(1e-6, (last - first) / 1000)
  const count = results.reduce((n, r) => n + r.count, 0)
  const bytes = results.reduce((n, r) => n + r.bytes, 0)
  const rates = results.map((r) => (r.count > 0 ? r.count / Math.max(1e-6, (r.lastAt - r.firstAt) / 1000) : 0))
  const lat = merged(results.map((r) => r.latencies))
  const measured = lat.length > 0
  return {
    role: ROLE_ROW[role], clients: results.length, count, seconds,
    msgsPerSec: seconds > 0 ? count / seconds : 0,
    mibPerSec: seconds > 0 ? bytes / seconds / 1048576 : 0,
    p50Us: measured ? quantile(lat, 0.5) : undefined,
    p99Us: measured ? quantile(lat, 0.99) : undefined,
    maxUs: measured ? Math.max(...results.map((r) => r.maxUs)) : undefined,
    ...(expectedEach !== undefined ? { lost: results.reduce((n, r) => n + Math.max(0, expectedEach - r.count), 0) } : {}),
    ...(role === 'requester' ? { failed: results.reduce((n, r) => n + r.failed, 0) } : {}),
    minPerClient: Math.min(...rates),
    maxPerClient: Math.max(...rates),
  }
}

const int = (n: number): string => Math.round(n).toLocaleString('en-US')

function us(n: number | undefined): string {
  if (n === undefined) return '-'
  if (n >= 10_000) return `${(n / 1000).toFixed(1)} ms`
  return n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${n.toFixed(0)} µs`
}

/** The final table, as `nats bench` prints its summary: one line per role. */
export function formatReport(r: BenchReport): string {
  const head = ['', 'clients', 'messages', 'msg/s', 'MiB/s', 'p50', 'p99', 'max', 'lost/failed']
  const rows = r.rows.map((x) => [
    x.role, String(x.clients), int(x.count), int(x.msgsPerSec), x.mibPerSec.toFixed(1),
    us(x.p50Us), us(x.p99Us), us(x.maxUs), x.lost !== undefined ? int(x.lost) : x.failed !== undefined ? int(x.failed) : '-',
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  const what = r.pattern === 'request' ? `requests to "${r.name}"` : `events on "${r.name}"`
  const amount = r.msgs !== null ? `${int(r.msgs)} messages` : `${r.seconds} s`
  return [
    `herald bench ${r.pattern}: ${what}, ${r.size} B payloads, ${amount}`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
  ].join('\n')
}
