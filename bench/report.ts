/**
 * The benchmark's results: per row and system, every run's metrics and their median, min and
 * max; printed as text tables and saved as JSON + Markdown (bench/results/).
 */
import { execSync } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { ROOT } from '../test/harness.js'
import { natsServerPath } from './servers.js'
import type { Metric, Row, RunResult, System } from './workload.js'

export const RESULTS = join(ROOT, 'bench/results')
export const SYSTEM_NAME: Record<System, string> = { herald: 'Herald', nats: 'NATS' }
const SYSTEMS = ['herald', 'nats'] as const

export interface SystemResult {
  runs: RunResult[]
  /** Runs that threw (the message), beside the failed checks inside runs. */
  errors: string[]
  /** The machine's 1-min load average as each run started. */
  loads: number[]
  median: Map<string, Metric>
  min: Map<string, Metric>
  max: Map<string, Metric>
}

export interface RowResult {
  workload: string
  row: Row
  params: Record<string, number | string | boolean>
  systems: Partial<Record<System, SystemResult>>
}

export function emptySystemResult(): SystemResult {
  return { runs: [], errors: [], loads: [], median: new Map(), min: new Map(), max: new Map() }
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Each metric's median, min and max over the runs (each metric separately). */
export function aggregate(sr: SystemResult): void {
  const byKey = new Map<string, { proto: Metric; values: number[] }>()
  for (const r of sr.runs) {
    for (const m of r.metrics) {
      const e = byKey.get(m.key) ?? { proto: m, values: [] }
      e.values.push(m.value)
      byKey.set(m.key, e)
    }
  }
  for (const [k, e] of byKey) {
    sr.median.set(k, { ...e.proto, value: median(e.values) })
    sr.min.set(k, { ...e.proto, value: Math.min(...e.values) })
    sr.max.set(k, { ...e.proto, value: Math.max(...e.values) })
  }
}

export function failuresOf(s: SystemResult | undefined): string[] {
  if (s === undefined) return []
  return [...s.errors, ...s.runs.flatMap((r, i) => r.failures.map((f) => `run ${i + 1}: ${f}`))]
}

// ---- formatting ---------------------------------------------------------------------------

export function fmt(m: Metric | undefined): string {
  if (m === undefined) return '—'
  return m.value.toLocaleString('en-US', { minimumFractionDigits: m.digits ?? 0, maximumFractionDigits: m.digits ?? 0 })
}

function range(s: SystemResult | undefined, key: string): string {
  const lo = s?.min.get(key)
  const hi = s?.max.get(key)
  if (lo === undefined || hi === undefined) return '—'
  return s!.runs.length === 1 ? '' : `${fmt(lo)}–${fmt(hi)}`
}

function ratio(h: Metric | undefined, n: Metric | undefined): string {
  if (h === undefined || n === undefined || n.value === 0) return '—'
  const r = h.value / n.value
  return `${r >= 10 ? r.toFixed(0) : r >= 0.095 ? r.toFixed(2) : r.toPrecision(2)}×`
}

export function textTable(rows: string[][], leftCols = 1): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: string[]): string => r.map((cell, c) => (c < leftCols ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function markdownTable(rows: string[][], leftCols = 1): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`
  return [line(rows[0]!), `|${rows[0]!.map((_, c) => (c < leftCols ? '---' : '---:')).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

/** Columns for one metric: Herald median and range, then NATS's and the ratio when NATS ran. */
function cells(r: RowResult, key: string, withNats: boolean): string[] {
  const h = r.systems.herald
  const n = r.systems.nats
  const own = [fmt(h?.median.get(key)), range(h, key)]
  if (!withNats) return own
  if (n === undefined) return [...own, 'n/a', '', '—']
  return [...own, fmt(n.median.get(key)), range(n, key), ratio(h?.median.get(key), n.median.get(key))]
}

/** The summary: each row's headline metrics, Herald vs NATS. */
export function summaryRows(results: RowResult[]): string[][] {
  const withNats = results.some((r) => r.systems.nats !== undefined)
  const out: string[][] = [['workload', 'metric', 'Herald', 'Herald min–max', ...(withNats ? ['NATS', 'NATS min–max', 'Herald/NATS'] : []), 'checks']]
  for (const r of results) {
    let first = true
    for (const key of r.row.headline) {
      const m = r.systems.herald?.median.get(key) ?? r.systems.nats?.median.get(key)
      if (m === undefined) continue
      out.push([r.row.name, m.label, ...cells(r, key, withNats), first ? checks(r) : ''])
      first = false
    }
  }
  return out
}

/** "ok", or which systems failed checks in how many runs. */
function checks(r: RowResult): string {
  const bad = SYSTEMS.flatMap((s) => {
    const sr = r.systems[s]
    if (sr === undefined) return []
    const failedRuns = sr.runs.filter((x) => x.failures.length > 0).length + sr.errors.length
    return failedRuns > 0 ? [`${SYSTEM_NAME[s]} FAILED ${failedRuns}/${sr.runs.length + sr.errors.length}`] : []
  })
  return bad.length > 0 ? bad.join(', ') : 'ok'
}

/** One row's every metric (median and min–max), Herald vs NATS. */
function detailRows(r: RowResult): string[][] {
  const withNats = r.systems.nats !== undefined
  const keys = [...new Set(SYSTEMS.flatMap((s) => [...(r.systems[s]?.median.keys() ?? [])]))]
  const head = ['metric', 'Herald', 'min–max', ...(withNats ? ['NATS', 'min–max', 'Herald/NATS'] : [])]
  return [head, ...keys.map((k) => {
    const m = (r.systems.herald?.median.get(k) ?? r.systems.nats?.median.get(k))!
    return [m.label, ...cells(r, k, withNats)]
  })]
}

/** Lines under a row's table: each run's headline value, notes, failures. */
function rowNotes(r: RowResult): string[] {
  const out: string[] = []
  const key = r.row.headline[0]!
  const runsOf = (s: System): string | undefined => {
    const sr = r.systems[s]
    if (sr === undefined || sr.runs.length === 0) return undefined
    return `${SYSTEM_NAME[s]} ${sr.runs.map((x) => fmt(x.metrics.find((m) => m.key === key))).join(', ')}`
  }
  const label = r.systems.herald?.median.get(key)?.label ?? r.systems.nats?.median.get(key)?.label
  const per = SYSTEMS.map(runsOf).filter((x) => x !== undefined)
  if (per.length > 0 && label !== undefined) out.push(`runs in order (${label}): ${per.join(' · ')}`)
  if (r.systems.nats === undefined && r.row.noNats !== undefined) out.push(`no NATS run: ${r.row.noNats}`)
  for (const s of SYSTEMS) {
    const notes = [...new Set((r.systems[s]?.runs ?? []).flatMap((x) => x.notes))]
    for (const n of notes) out.push(`${SYSTEM_NAME[s]}: ${n}`)
    for (const f of failuresOf(r.systems[s])) out.push(`**FAILED** (${SYSTEM_NAME[s]}): ${f}`)
  }
  return out
}

// ---- environment --------------------------------------------------------------------------

function versionOf(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version
  } catch {
    return 'unknown'
  }
}

export function environment(): Record<string, string | number> {
  let commit = 'unknown'
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    const dirty = execSync('git status --porcelain --untracked-files=no', { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
    if (dirty !== '') commit += ' (with uncommitted changes)'
  } catch { /* not a git checkout */ }
  let nats = 'not installed'
  const bin = natsServerPath()
  if (bin !== undefined) {
    try { nats = execSync(`${bin} --version`, { encoding: 'utf8' }).trim() } catch { nats = bin }
  }
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    commit,
    natsServer: nats,
    natsJs: versionOf('nats'),
    heraldClient: versionOf('@herald/client'),
  }
}

/** What a figure is a figure of: the sentence every table is read with. */
export function measuredWhat(env: Record<string, string | number>, nats: boolean): string {
  const h = `Herald = @herald/client ${env['heraldClient']} + the herald relay (Node ${env['node']}, one thread each)`
  const n = `NATS = nats.js ${env['natsJs']} (noAsyncTraces) + ${env['natsServer']} (Go, all cores)`
  return `Every figure is client library + server, with every process (servers, publishers, subscribers, clients, members) ` +
    `on the same ${env['cores']} shared cores: ${h}${nats ? `; ${n}` : ''}.`
}

function loadLine(env: Record<string, string | number>): string {
  return `1-min load average ${env['loadAvgAtStart']} at start, ${env['loadAvgAtEnd']} at end, ${env['loadAvgDuring']} during the runs (median, min–max of samples every 5 s)`
}

// ---- output -------------------------------------------------------------------------------

export interface RunInfo { runs: number; warmup: number; seconds: number; elapsedSeconds: number }

export function printResults(results: RowResult[], env: Record<string, string | number>, info: RunInfo, nats: boolean): void {
  console.log(`\nHerald vs NATS: medians and min–max of ${info.runs} run${info.runs === 1 ? '' : 's'} each (${info.warmup} s warm-up, ${info.seconds} s measured), ${info.elapsedSeconds.toFixed(0)} s in all`)
  console.log(`${env['cpu']} × ${env['cores']} · commit ${env['commit']} · ${loadLine(env)}`)
  console.log(`${measuredWhat(env, nats)}\n`)
  console.log(textTable(summaryRows(results), 2))
  for (const r of results) {
    console.log(`\n${r.row.name}: ${r.row.description}  (${Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')})\n`)
    console.log(textTable(detailRows(r)))
    for (const n of rowNotes(r)) console.log(`  ${n.replace(/\*\*/g, '')}`)
  }
}

export function save(results: RowResult[], env: Record<string, string | number>, options: Record<string, unknown>, info: RunInfo, date: Date): string[] {
  mkdirSync(RESULTS, { recursive: true })
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-')
  const obj = (m: Map<string, Metric>): Record<string, number> => Object.fromEntries([...m].map(([k, v]) => [k, v.value]))
  const json = {
    date: date.toISOString(),
    elapsedSeconds: Math.round(info.elapsedSeconds),
    env,
    options,
    rows: results.map((r) => ({
      name: r.row.name,
      workload: r.workload,
      description: r.row.description,
      params: r.params,
      ...Object.fromEntries(SYSTEMS.filter((s) => r.systems[s] !== undefined).map((s) => {
        const sr = r.systems[s]!
        return [s, {
          median: obj(sr.median),
          min: obj(sr.min),
          max: obj(sr.max),
          runs: sr.runs.map((x, i) => ({ loadAvg: sr.loads[i], metrics: Object.fromEntries(x.metrics.map((m) => [m.key, m.value])), failures: x.failures, notes: x.notes })),
          errors: sr.errors,
        }]
      })),
      units: Object.fromEntries([...(r.systems.herald?.median ?? r.systems.nats?.median ?? new Map<string, Metric>())].map(([k, m]) => [k, m.unit])),
    })),
  }
  const file = join(RESULTS, `bench-${stamp}.json`)
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
  const nats = options['nats'] === true
  const md = [
    '# Herald benchmark results (latest run)',
    '',
    `${date.toISOString()} · ${env['cpu']} × ${env['cores']} · ${env['memoryGiB']} GiB · commit ${env['commit']} · ${loadLine(env)} (other work on the machine skews every number)`,
    '',
    `**What is measured.** ${measuredWhat(env, nats)}`,
    '',
    `Produced by \`npm run bench\` in ${Math.round(info.elapsedSeconds / 60)} min: ${info.runs} run${info.runs === 1 ? '' : 's'} per row and system, interleaved; ` +
      `${info.warmup} s warm-up, ${info.seconds} s measured. Each cell is the **median** over the runs, and min–max their range (each metric separately). ` +
      'See [bench/README.md](../README.md) for what each number means. ' +
      'Herald/NATS is the ratio of the medians: above 1 means Herald has more of it (good for rates, bad for CPU, RSS and latency).',
    '',
    '## Summary',
    '',
    markdownTable(summaryRows(results), 2).replace(/FAILED/g, '**FAILED**'),
    ...results.flatMap((r) => [
      '',
      `## ${r.row.name}`,
      '',
      `${r.row.description}. ${Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')}`,
      '',
      markdownTable(detailRows(r)),
      ...(rowNotes(r).length > 0 ? ['', ...rowNotes(r).map((n) => `- ${n}`)] : []),
    ]),
    '',
  ].join('\n')
  const latest = join(RESULTS, 'latest.md')
  writeFileSync(latest, md)
  return [file, latest]
}
