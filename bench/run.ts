/**
 * Herald benchmarks: `npm run bench -- [WORKLOAD...] [flags]` (no workload: all of them).
 *
 * Every row of every workload runs --runs times against Herald and, when nats-server is
 * installed, against NATS, interleaved (H, N, H, N, ...) so that load noise hits both. Each
 * run starts its own servers and worker processes. Progress goes to stderr; at the end the
 * medians go to stdout as tables with Herald/NATS ratios, and to bench/results/.
 */
import { mkdirSync } from 'node:fs'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT, killAll } from '../test/harness.js'
import { killWorkers } from './driver.js'
import { LoadSampler } from './proc-stats.js'
import {
  RESULTS, SYSTEM_NAME, aggregate, emptySystemResult, environment, failuresOf, fmt, printResults, save, type RowResult,
} from './report.js'
import { killNatsServers, natsServerPath } from './servers.js'
import type { RunOptions, Workload } from './workload.js'
import { idle } from './workloads/idle.js'
import { latency } from './workloads/latency.js'
import { fanout, pubsub1, pubsub2 } from './workloads/pubsub.js'
import { request, request2 } from './workloads/request.js'
import { tunnel } from './workloads/tunnel.js'

/** Every workload, by name, in the order they run. Add new ones here. */
const WORKLOADS: Record<string, Workload> = Object.fromEntries(
  [pubsub1, pubsub2, fanout, request, request2, latency, tunnel, idle].map((w) => [w.name, w]),
)

const DEFAULTS = { runs: 5, seconds: 10, warmup: 2, rate: 5000, streamRate: 50_000 }
const SMOKE = { runs: 1, seconds: 0.5, warmup: 0.2, messages: 20_000, requests: 500, rate: 1000, streamRate: 5000 }

const USAGE = `usage: npm run bench -- [WORKLOAD...] [--runs N] [--seconds S] [--warmup S] [--messages N]
                       [--requests N] [--rate N] [--stream-rate N] [--smoke] [--no-nats]
                       [--cpu-prof] [--no-save]

workloads (default: all, in this order):
${Object.values(WORKLOADS).map((w) => `  ${w.name.padEnd(10)} ${w.description}`).join('\n')}

  --runs N          runs per row and system; the tables show median and min–max
                    (default ${DEFAULTS.runs}; smoke ${SMOKE.runs})
  --seconds S       measured phase of each run, after the warm-up (default ${DEFAULTS.seconds}; smoke ${SMOKE.seconds})
  --warmup S        warm-up before measuring, not counted (default ${DEFAULTS.warmup}; smoke ${SMOKE.warmup})
  --messages N      also stop a pub/sub run's measured phase after N messages (smoke: ${SMOKE.messages.toLocaleString('en-US')};
                    tunnels: N/100 messages of 64 KiB)
  --requests N      also stop request-seq's measured phase after N requests (smoke: ${SMOKE.requests})
  --rate N          latency rows: offered requests per second (default ${DEFAULTS.rate.toLocaleString('en-US')}; smoke ${SMOKE.rate.toLocaleString('en-US')})
  --stream-rate N   latency rows: 1 KiB events per second in the background stream
                    (default ${DEFAULTS.streamRate.toLocaleString('en-US')}; smoke ${SMOKE.streamRate.toLocaleString('en-US')})
  --smoke           every workload at a tiny size; exit 1 if a run failed or lost messages where
                    loss is not allowed (never a speed bound). Smoke results are not saved.
  --no-nats         Herald only, even when nats-server is installed
  --cpu-prof        profile Herald relays (node --cpu-prof) into bench/results/profiles/
  --no-save         do not write bench/results/

environment: BENCH_RELAY_NODE_ARGS="--flag ..." adds node flags to every Herald relay (for
experiments, e.g. GC settings; the relays' own flags come first); BENCH_WORKER_NODE_ARGS the same
for every worker process (publishers, subscribers, clients, members; e.g. --cpu-prof).

exit codes: 0 done (a full run also exits 0 with failed checks: they are in the tables),
1 a smoke check failed or the driver failed, 2 usage error`

class UsageError extends Error {}

function numFlag(v: string | undefined, name: string, min: number, integer: boolean): number | undefined {
  if (v === undefined) return undefined
  const n = Number(v)
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${v}"`)
  }
  return n
}

async function main(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        runs: { type: 'string' }, seconds: { type: 'string' }, warmup: { type: 'string' },
        messages: { type: 'string' }, requests: { type: 'string' }, rate: { type: 'string' }, 'stream-rate': { type: 'string' },
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
  const dflt = smoke ? SMOKE : DEFAULTS
  const runs = numFlag(values.runs, 'runs', 1, true) ?? dflt.runs
  const seconds = numFlag(values.seconds, 'seconds', 0.1, false) ?? dflt.seconds
  const warmup = numFlag(values.warmup, 'warmup', 0, false) ?? dflt.warmup
  const messages = numFlag(values.messages, 'messages', 1, true) ?? (smoke ? SMOKE.messages : undefined)
  const requests = numFlag(values.requests, 'requests', 1, true) ?? (smoke ? SMOKE.requests : undefined)
  const rate = numFlag(values.rate, 'rate', 1, false) ?? dflt.rate
  const streamRate = numFlag(values['stream-rate'], 'stream-rate', 1, false) ?? dflt.streamRate
  const profileDir = join(RESULTS, 'profiles')
  const relayFlags = (process.env['BENCH_RELAY_NODE_ARGS'] ?? '').split(/\s+/).filter((f) => f !== '')
  if (values['cpu-prof'] === true) mkdirSync(profileDir, { recursive: true })
  const natsBin = values['no-nats'] === true ? undefined : natsServerPath()
  if (natsBin === undefined && values['no-nats'] !== true) {
    console.error('bench: nats-server not found (PATH, /usr/sbin): Herald only. Install it with `apt-get install nats-server`.')
  }

  const env = environment()
  env['loadAvgAtStart'] = loadavg()[0]!.toFixed(2)
  const load = new LoadSampler(5000)
  const date = new Date()
  const t0 = Date.now()
  const results: RowResult[] = []
  for (const w of chosen) {
    for (const row of w.rows) {
      const systems = row.systems.filter((s) => s === 'herald' || natsBin !== undefined)
      const base: Omit<RunOptions, 'label'> = {
        smoke, warmupMs: warmup * 1000, seconds, rate, streamRate,
        ...(messages !== undefined ? { messages } : {}), ...(requests !== undefined ? { requests } : {}),
        relayNodeArgs: [...(values['cpu-prof'] === true ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : []), ...relayFlags],
        progress: (line) => console.error(line),
      }
      const rr: RowResult = { workload: w.name, row, params: row.params({ ...base, label: '' }), systems: {} }
      for (const s of systems) rr.systems[s] = emptySystemResult()
      console.error(`== ${row.name}: ${row.description}${smoke ? ' (smoke)' : ''}`)
      // Interleaved: H, N, H, N, ... so that a burst of outside load hits both.
      for (let i = 1; i <= runs; i++) {
        for (const s of systems) {
          const label = `${row.name} ${SYSTEM_NAME[s]} #${i}`
          const sr = rr.systems[s]!
          const loadNow = loadavg()[0]!
          console.error(`-- ${label} (load average ${loadNow.toFixed(2)})`)
          try {
            const r = await row.run(s, { ...base, label })
            sr.runs.push(r)
            sr.loads.push(loadNow)
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
      for (const s of systems) aggregate(rr.systems[s]!)
      results.push(rr)
    }
  }

  // idle: add each system's peak RSS during pubsub-1-64, from that row's runs.
  const idleRow = results.find((r) => r.row.name === 'idle')
  const ps = results.find((r) => r.row.name === 'pubsub-1-64')
  if (idleRow !== undefined && ps !== undefined) {
    for (const s of ['herald', 'nats'] as const) {
      const target = idleRow.systems[s]
      const from = ps.systems[s]
      if (target === undefined || from === undefined) continue
      for (const k of ['median', 'min', 'max'] as const) {
        const m = from[k].get('relayPeakRssMiB')
        if (m !== undefined) target[k].set('pubsubPeakRssMiB', { ...m, key: 'pubsubPeakRssMiB', label: 'peak RSS during pubsub-1-64 MiB' })
      }
    }
  }

  env['loadAvgAtEnd'] = loadavg()[0]!.toFixed(2)
  env['loadAvgDuring'] = load.stop()
  const info = { runs, warmup, seconds, elapsedSeconds: (Date.now() - t0) / 1000 }
  printResults(results, env, info, natsBin !== undefined)
  const options = { runs, seconds, warmup, messages: messages ?? null, requests: requests ?? null, rate, streamRate, smoke, nats: natsBin !== undefined, workloads: chosen.map((w) => w.name) }
  if (!smoke && values['no-save'] !== true) {
    const files = save(results, env, options, info, date)
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
