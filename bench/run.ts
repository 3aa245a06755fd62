/**
 * Herald benchmarks: `npm run bench -- [WORKLOAD...] [flags]` (no workload: all of them).
 *
 * Every row of every workload runs --runs times against Herald and, when nats-server is
 * installed, against NATS, interleaved (H, N, H, N, ...) so that load noise hits both. Each
 * run starts its own servers and worker processes. Progress goes to stderr; at the end the
 * medians go to stdout as tables with Herald/NATS ratios, and to bench/results/.
 */
import { execSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT, killAll } from '../test/harness.js'
import { killWorkers } from './driver.js'
import { killNatsServers, natsServerPath } from './servers.js'
import type { Metric, Row, RunOptions, RunResult, System, Workload } from './workload.js'
import { idle } from './workloads/idle.js'
import { fanout, pubsub1, pubsub2 } from './workloads/pubsub.js'
import { request } from './workloads/request.js'
import { tunnel } from './workloads/tunnel.js'

/** Every workload, by name, in the order they run. Add new ones here. */
const WORKLOADS: Record<string, Workload> = Object.fromEntries(
  [pubsub1, pubsub2, fanout, request, tunnel, idle].map((w) => [w.name, w]),
)

const RESULTS = join(ROOT, 'bench/results')
const SYSTEM_NAME: Record<System, string> = { herald: 'Herald', nats: 'NATS' }

const USAGE = `usage: npm run bench -- [WORKLOAD...] [--runs N] [--seconds S] [--warmup S] [--messages N]
                       [--requests N] [--smoke] [--no-nats] [--cpu-prof] [--no-save]

workloads (default: all, in this order):
${Object.values(WORKLOADS).map((w) => `  ${w.name.padEnd(10)} ${w.description}`).join('\n')}

  --runs N       runs per row and system; the tables show medians (default 3; smoke 1)
  --seconds S    measured phase of each run, after the warm-up (default 3; smoke 0.5)
  --warmup S     warm-up before measuring, not counted (default 1; smoke 0.2)
  --messages N   also stop a pub/sub run's measured phase after N messages (smoke: 20,000;
                 tunnels: N/100 messages of 64 KiB)
  --requests N   sequential requests timed by request-seq (default 20,000; smoke 500)
  --smoke        every workload at a tiny size; exit 1 if a run failed or lost messages where
                 loss is not allowed (never a speed bound). Smoke results are not saved.
  --no-nats      Herald only, even when nats-server is installed
  --cpu-prof     profile Herald relays (node --cpu-prof) into bench/results/profiles/
  --no-save      do not write bench/results/`

class UsageError extends Error {}

function numFlag(v: string | undefined, name: string, min: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${v}"`)
  }
  return n
}

// ---- results ------------------------------------------------------------------------------

interface SystemResult {
  runs: RunResult[]
  /** Runs that threw (the message), beside the failed checks inside runs. */
  errors: string[]
  median: Map<string, Metric>
}

interface RowResult {
  workload: string
  row: Row
  params: Record<string, number | string | boolean>
  systems: Partial<Record<System, SystemResult>>
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

function medians(runs: RunResult[]): Map<string, Metric> {
  const out = new Map<string, Metric>()
  const byKey = new Map<string, { proto: Metric; values: number[] }>()
  for (const r of runs) {
    for (const m of r.metrics) {
      const e = byKey.get(m.key) ?? { proto: m, values: [] }
      e.values.push(m.value)
      byKey.set(m.key, e)
    }
  }
  for (const [k, e] of byKey) out.set(k, { ...e.proto, value: median(e.values) })
  return out
}

function failuresOf(s: SystemResult | undefined): string[] {
  if (s === undefined) return []
  return [...s.errors, ...s.runs.flatMap((r, i) => r.failures.map((f) => `run ${i + 1}: ${f}`))]
}

// ---- formatting ---------------------------------------------------------------------------

function fmt(m: Metric | undefined): string {
  if (m === undefined) return '—'
  return m.value.toLocaleString('en-US', { minimumFractionDigits: m.digits ?? 0, maximumFractionDigits: m.digits ?? 0 })
}

function ratio(h: Metric | undefined, n: Metric | undefined): string {
  if (h === undefined || n === undefined || n.value === 0) return '—'
  const r = h.value / n.value
  return `${r >= 10 ? r.toFixed(0) : r >= 0.095 ? r.toFixed(2) : r.toPrecision(2)}×`
}

function textTable(rows: string[][], leftCols = 1): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: string[]): string => r.map((cell, c) => (c < leftCols ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function markdownTable(rows: string[][], leftCols = 1): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`
  return [line(rows[0]!), `|${rows[0]!.map((_, c) => (c < leftCols ? '---' : '---:')).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

/** The summary: each row's headline metrics, Herald vs NATS. */
function summaryRows(results: RowResult[]): string[][] {
  const out: string[][] = [['workload', 'metric', 'Herald', 'NATS', 'Herald/NATS', 'checks']]
  for (const r of results) {
    const h = r.systems.herald?.median
    const n = r.systems.nats?.median
    let first = true
    for (const key of r.row.headline) {
      const m = h?.get(key) ?? n?.get(key)
      if (m === undefined) continue
      out.push([r.row.name, m.label, fmt(h?.get(key)), r.systems.nats === undefined ? 'n/a' : fmt(n?.get(key)), ratio(h?.get(key), n?.get(key)), first ? checks(r) : ''])
      first = false
    }
  }
  return out
}

/** "ok", or which systems failed checks in how many runs. */
function checks(r: RowResult): string {
  const bad = (['herald', 'nats'] as const).flatMap((s) => {
    const sr = r.systems[s]
    if (sr === undefined) return []
    const failedRuns = sr.runs.filter((x) => x.failures.length > 0).length + sr.errors.length
    return failedRuns > 0 ? [`${SYSTEM_NAME[s]} FAILED ${failedRuns}/${sr.runs.length + sr.errors.length}`] : []
  })
  return bad.length > 0 ? bad.join(', ') : 'ok'
}

/** One row's every metric (medians), Herald vs NATS. */
function detailRows(r: RowResult): string[][] {
  const h = r.systems.herald?.median ?? new Map<string, Metric>()
  const n = r.systems.nats?.median ?? new Map<string, Metric>()
  const keys = [...new Set([...h.keys(), ...n.keys()])]
  const withNats = r.systems.nats !== undefined
  const head = withNats ? ['metric', 'Herald', 'NATS', 'Herald/NATS'] : ['metric', 'Herald']
  return [head, ...keys.map((k) => {
    const m = (h.get(k) ?? n.get(k))!
    return withNats ? [m.label, fmt(h.get(k)), fmt(n.get(k)), ratio(h.get(k), n.get(k))] : [m.label, fmt(h.get(k))]
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
  const per = (['herald', 'nats'] as const).map(runsOf).filter((x) => x !== undefined)
  if (per.length > 0 && label !== undefined) out.push(`runs (${label}): ${per.join(' · ')}`)
  if (r.systems.nats === undefined && r.row.noNats !== undefined) out.push(`no NATS run: ${r.row.noNats}`)
  for (const s of ['herald', 'nats'] as const) {
    const notes = [...new Set((r.systems[s]?.runs ?? []).flatMap((x) => x.notes))]
    for (const n of notes) out.push(`${SYSTEM_NAME[s]}: ${n}`)
    for (const f of failuresOf(r.systems[s])) out.push(`**FAILED** (${SYSTEM_NAME[s]}): ${f}`)
  }
  return out
}

function environment(): Record<string, string | number> {
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
    loadAvgAtStart: loadavg()[0]!.toFixed(2),
    commit,
    natsServer: nats,
  }
}

function save(results: RowResult[], env: Record<string, string | number>, options: Record<string, unknown>, date: Date): string[] {
  mkdirSync(RESULTS, { recursive: true })
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-')
  const obj = (m: Map<string, Metric>): Record<string, number> => Object.fromEntries([...m].map(([k, v]) => [k, v.value]))
  const json = {
    date: date.toISOString(),
    env,
    options,
    rows: results.map((r) => ({
      name: r.row.name,
      workload: r.workload,
      description: r.row.description,
      params: r.params,
      ...Object.fromEntries((['herald', 'nats'] as const).filter((s) => r.systems[s] !== undefined).map((s) => {
        const sr = r.systems[s]!
        return [s, {
          median: obj(sr.median),
          runs: sr.runs.map((x) => ({ metrics: Object.fromEntries(x.metrics.map((m) => [m.key, m.value])), failures: x.failures, notes: x.notes })),
          errors: sr.errors,
        }]
      })),
      units: Object.fromEntries([...(r.systems.herald?.median ?? r.systems.nats?.median ?? new Map<string, Metric>())].map(([k, m]) => [k, m.unit])),
    })),
  }
  const file = join(RESULTS, `bench-${stamp}.json`)
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
  const md = [
    '# Herald benchmark results (latest run)',
    '',
    `${date.toISOString()} · node ${env['node']} · ${env['cpu']} × ${env['cores']} · ${env['memoryGiB']} GiB · commit ${env['commit']} · ${env['natsServer']} · ` +
      `1-min load average ${env['loadAvgAtStart']} at start, ${env['loadAvgAtEnd']} at end (other work on the machine skews every number)`,
    '',
    `Produced by \`npm run bench\` (${String(options['runs'])} run${options['runs'] === 1 ? '' : 's'} per row and system, medians; ${String(options['warmup'])} s warm-up, ` +
      `${String(options['seconds'])} s measured). See [bench/README.md](../README.md) for what each number means. ` +
      'Herald/NATS above 1 means Herald has more of it (good for rates, bad for CPU, RSS and latency).',
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

// ---- main ---------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        runs: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' },
        messages: { type: 'string' }, requests: { type: 'string' },
        smoke: { type: 'boolean' }, 'no-nats': { type: 'boolean' }, 'cpu-prof': { type: 'boolean' },
        'no-save': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    console.log(USAGE)
    return 0
  }
  const unknown = positionals.filter((p) => !(p in WORKLOADS))
  if (unknown.length > 0) throw new UsageError(`unknown workload ${unknown.map((u) => `"${u}"`).join(', ')}; known: ${Object.keys(WORKLOADS).join(', ')}`)
  const chosen = Object.values(WORKLOADS).filter((w) => positionals.length === 0 || positionals.includes(w.name))
  const smoke = values.smoke === true
  const runs = numFlag(values.runs, 'runs', 1, true) ?? (smoke ? 1 : 3)
  const seconds = numFlag(values.seconds, 'seconds', 0.1, false) ?? (smoke ? 0.5 : 3)
  const warmup = numFlag(values.warmup, 'warmup', 0, false) ?? (smoke ? 0.2 : 1)
  const messages = numFlag(values.messages, 'messages', 1, true) ?? (smoke ? 20_000 : undefined)
  const requests = numFlag(values.requests, 'requests', 1, true) ?? (smoke ? 500 : 20_000)
  const profileDir = join(RESULTS, 'profiles')
  if (values['cpu-prof'] === true) mkdirSync(profileDir, { recursive: true })
  const natsBin = values['no-nats'] === true ? undefined : natsServerPath()
  if (natsBin === undefined && values['no-nats'] !== true) {
    console.error('bench: nats-server not found (PATH, /usr/sbin): Herald only. Install it with `apt-get install nats-server`.')
  }

  const env = environment()
  const date = new Date()
  const t0 = Date.now()
  const results: RowResult[] = []
  for (const w of chosen) {
    for (const row of w.rows) {
      const systems = row.systems.filter((s) => s === 'herald' || natsBin !== undefined)
      const base: Omit<RunOptions, 'label'> = {
        smoke, warmupMs: warmup * 1000, seconds, requests, ...(messages !== undefined ? { messages } : {}),
        relayNodeArgs: values['cpu-prof'] === true ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
        progress: (line) => console.error(line),
      }
      const rr: RowResult = { workload: w.name, row, params: row.params({ ...base, label: '' }), systems: {} }
      for (const s of systems) rr.systems[s] = { runs: [], errors: [], median: new Map() }
      console.error(`== ${row.name}: ${row.description}${smoke ? ' (smoke)' : ''}`)
      // Interleaved: H, N, H, N, ... so that a burst of outside load hits both.
      for (let i = 1; i <= runs; i++) {
        for (const s of systems) {
          const label = `${row.name} ${SYSTEM_NAME[s]} #${i}`
          console.error(`-- ${label}`)
          const sr = rr.systems[s]!
          try {
            const r = await row.run(s, { ...base, label })
            sr.runs.push(r)
            const head = r.metrics.find((m) => m.key === row.headline[0])
            console.error(`   ${head !== undefined ? `${head.label} ${fmt(head)}` : 'done'}${r.failures.length > 0 ? `  FAILED: ${r.failures.join('; ')}` : ''}`)
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err)
            sr.errors.push(`run ${i}: ${msg.split('\n')[0]!}`)
            console.error(`   run failed: ${msg}`)
            await killWorkers()
            await killAll()
            await killNatsServers()
          }
        }
      }
      for (const s of systems) rr.systems[s]!.median = medians(rr.systems[s]!.runs)
      results.push(rr)
    }
  }

  // idle: add each system's peak RSS during pubsub-1-64, from that row's runs.
  const idleRow = results.find((r) => r.row.name === 'idle')
  const ps = results.find((r) => r.row.name === 'pubsub-1-64')
  if (idleRow !== undefined && ps !== undefined) {
    for (const s of ['herald', 'nats'] as const) {
      const m = ps.systems[s]?.median.get('relayPeakRssMiB')
      if (m !== undefined && idleRow.systems[s] !== undefined) {
        idleRow.systems[s]!.median.set('pubsubPeakRssMiB', { ...m, key: 'pubsubPeakRssMiB', label: 'peak RSS during pubsub-1-64 MiB' })
      }
    }
  }

  env['loadAvgAtEnd'] = loadavg()[0]!.toFixed(2)
  console.log(`\nHerald vs NATS: medians of ${runs} run${runs === 1 ? '' : 's'} each (${warmup} s warm-up, ${seconds} s measured), ${((Date.now() - t0) / 1000).toFixed(0)} s in all`)
  console.log(`${env['node']} · ${env['cpu']} × ${env['cores']} · commit ${env['commit']} · ${env['natsServer']} · load average ${env['loadAvgAtStart']} at start, ${env['loadAvgAtEnd']} at end\n`)
  console.log(textTable(summaryRows(results), 2))
  for (const r of results) {
    console.log(`\n${r.row.name}: ${r.row.description}  (${Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')})\n`)
    console.log(textTable(detailRows(r)))
    for (const n of rowNotes(r)) console.log(`  ${n.replace(/\*\*/g, '')}`)
  }
  const options = { runs, seconds, warmup, messages: messages ?? null, requests, smoke, nats: natsBin !== undefined, workloads: chosen.map((w) => w.name) }
  if (!smoke && values['no-save'] !== true) {
    const files = save(results, env, options, date)
    console.log(`\nsaved ${files.map((f) => f.slice(ROOT.length + 1)).join(', ')}`)
  }
  if (values['cpu-prof'] === true) console.log(`relay CPU profiles in ${profileDir.slice(ROOT.length + 1)}/`)
  const failed = results.flatMap((r) => (['herald', 'nats'] as const).flatMap((s) => failuresOf(r.systems[s]).map((f) => `${r.row.name} ${SYSTEM_NAME[s]}: ${f}`)))
  if (failed.length > 0) {
    console.error(`\nbench: ${failed.length} failure${failed.length === 1 ? '' : 's'}:\n  ${failed.join('\n  ')}`)
    if (smoke) return 1
  }
  return 0
}

let code: number
try {
  code = await main(process.argv.slice(2))
} catch (err) {
  if (err instanceof UsageError) {
    console.error(`bench: ${err.message}\n\n${USAGE}`)
    code = 2
  } else {
    console.error(`bench: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`)
    code = 1
  }
  await killWorkers()
  await killAll()
  await killNatsServers()
}
process.exit(code)
