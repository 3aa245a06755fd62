/**
 * Herald benchmarks: `npm run bench -- [WORKLOAD...] [flags]` (no workload: all of them).
 * Each workload starts its own relay and worker processes through test/harness.ts, prints
 * progress on stderr, and its results are printed as a table and saved to bench/results/.
 */
import { execSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT, killAll } from '../test/harness.js'
import { pubsub } from './pubsub/workload.js'
import type { Metric, Workload, WorkloadResult } from './workload.js'

/** Every workload, by name. Add new ones here. */
const WORKLOADS: Record<string, Workload> = {
  [pubsub.name]: pubsub,
}

const RESULTS = join(ROOT, 'bench/results')

const USAGE = `usage: npm run bench -- [WORKLOAD...] [--messages N] [--seconds S] [--size B] [--smoke] [--cpu-prof] [--no-save]

workloads (default: all):
${Object.values(WORKLOADS).map((w) => `  ${w.name.padEnd(10)} ${w.description}`).join('\n')}

  --messages N   messages to send (pubsub default 1,000,000; smoke 20,000)
  --seconds S    stop sending after S seconds, whichever comes first (default 15; smoke 10)
  --size B       payload bytes (default 64)
  --smoke        a few-seconds run; exit 1 if any correctness check fails (e.g. a lost message).
                 Smoke results are not saved.
  --cpu-prof     profile the relay (node --cpu-prof); the .cpuprofile goes to bench/results/profiles/
  --no-save      do not write bench/results/`

class UsageError extends Error {}

function intFlag(v: string | undefined, name: string, min: number): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`)
  return n
}

function formatValue(m: Metric): string {
  return m.value.toLocaleString('en-US', { minimumFractionDigits: m.digits ?? 0, maximumFractionDigits: m.digits ?? 0 })
}

/** Metrics as rows of a two-column table (one per workload result). */
function table(r: WorkloadResult): string[][] {
  return [['metric', 'value'], ...r.metrics.map((m) => [m.label, formatValue(m)])]
}

function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)))
  const line = (r: string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

function markdownTable(rows: string[][]): string {
  const line = (r: string[]): string => `| ${r.join(' | ')} |`
  return [line(rows[0]!), `|${rows[0]!.map((_, c) => (c === 0 ? '---' : '---:')).join('|')}|`, ...rows.slice(1).map(line)].join('\n')
}

function environment(): Record<string, string | number> {
  let commit = 'unknown'
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch { /* not a git checkout */ }
  return {
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    commit,
  }
}

function save(results: WorkloadResult[], env: Record<string, string | number>, date: Date): string[] {
  mkdirSync(RESULTS, { recursive: true })
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-')
  const files: string[] = []
  for (const r of results) {
    const file = join(RESULTS, `${r.workload}-${stamp}.json`)
    const metrics = Object.fromEntries(r.metrics.map((m) => [m.key, m.value]))
    writeFileSync(file, JSON.stringify({ workload: r.workload, date: date.toISOString(), env, params: r.params, metrics, failures: r.failures, notes: r.notes }, null, 2) + '\n')
    files.push(file)
  }
  const md = [
    '# Herald benchmark results (latest run)',
    '',
    `${date.toISOString()} · node ${env['node']} · ${env['cpu']} × ${env['cores']} · ${env['memoryGiB']} GiB · commit ${env['commit']}`,
    '',
    'Produced by `npm run bench`; see bench/README.md for what each number means.',
    ...results.flatMap((r) => [
      '',
      `## ${r.workload}`,
      '',
      Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(', '),
      '',
      markdownTable(table(r)),
      ...(r.failures.length > 0 ? ['', ...r.failures.map((f) => `- **FAILED:** ${f}`)] : []),
      ...(r.notes.length > 0 ? ['', ...r.notes.map((n) => `- ${n}`)] : []),
    ]),
    '',
  ].join('\n')
  const latest = join(RESULTS, 'latest.md')
  writeFileSync(latest, md)
  files.push(latest)
  return files
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        messages: { type: 'string' }, seconds: { type: 'string' }, size: { type: 'string' },
        smoke: { type: 'boolean' }, 'cpu-prof': { type: 'boolean' }, 'no-save': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
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
  const chosen = (positionals.length > 0 ? positionals : Object.keys(WORKLOADS)).map((n) => WORKLOADS[n]!)
  const smoke = values.smoke === true
  const messages = intFlag(values.messages, 'messages', 1)
  const seconds = intFlag(values.seconds, 'seconds', 1)
  const size = intFlag(values.size, 'size', 0)
  const profileDir = join(RESULTS, 'profiles')
  if (values['cpu-prof'] === true) mkdirSync(profileDir, { recursive: true })

  const env = environment()
  const date = new Date()
  const results: WorkloadResult[] = []
  for (const w of chosen) {
    console.error(`== ${w.name}: ${w.description}${smoke ? ' (smoke)' : ''}`)
    const r = await w.run({
      ...(messages !== undefined ? { messages } : {}),
      ...(seconds !== undefined ? { seconds } : {}),
      ...(size !== undefined ? { size } : {}),
      smoke,
      relayNodeArgs: values['cpu-prof'] === true ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
      progress: (line) => console.error(line),
    })
    results.push(r)
  }

  for (const r of results) {
    console.log(`\n${r.workload}  (${Object.entries(r.params).map(([k, v]) => `${k}=${String(v)}`).join(', ')})\n`)
    console.log(textTable(table(r)))
    for (const n of r.notes) console.log(`note: ${n}`)
    for (const f of r.failures) console.log(`FAILED: ${f}`)
  }
  if (!smoke && values['no-save'] !== true) {
    const files = save(results, env, date)
    console.log(`\nsaved ${files.map((f) => f.slice(ROOT.length + 1)).join(', ')}`)
  }
  if (values['cpu-prof'] === true) console.log(`relay CPU profiles in ${profileDir.slice(ROOT.length + 1)}/`)
  const failed = results.filter((r) => r.failures.length > 0)
  if (failed.length > 0 && smoke) {
    console.error(`bench: smoke run failed: ${failed.flatMap((r) => r.failures).join('; ')}`)
    return 1
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
  await killAll()
}
process.exit(code)
