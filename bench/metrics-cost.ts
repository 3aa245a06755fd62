/**
 * What seeing the network costs: the pubsub-1-64 row (1 publisher -> relay -> 1 subscriber,
 * 64 B events; bench/workloads/pubsub.ts) with the relay plain, with --metrics scraped every
 * second, and with --metrics and --ui with a dashboard open (an SSE client), interleaved
 * run by run in the same invocation so that outside load hits every variant alike.
 *
 *   npm run bench:metrics                      # 9 runs per variant, 3 s measured each (~5 min)
 *   npm run bench:metrics -- --runs 7 --seconds 5
 *   npm run bench:metrics -- --smoke           # 1 short run each (checks that it works)
 *
 * Prints a table (median delivered msg/s and relay CPU per event, and the ratio to the plain
 * relay, both of the medians and the median of each round's own ratio: the variants of one round
 * ran back to back, under the same outside load), and what one scrape costs the relay, timed in
 * this process on a relay with the full label sets (200 clusters, 200 topics). Writes
 * bench/results/metrics-cost-<time>.json and metrics-cost-latest.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect } from '@herald/client'
import { ManualClock, MemoryNetwork, createRelay, silentLogger } from '@herald/node'
import { createRelayMetrics } from '@herald/node/metrics'
import { ROOT, killAll } from '../test/harness.js'
import { freePort, killWorkers } from './driver.js'
import type { RunOptions, RunResult } from './workload.js'
import { pubsub1 } from './workloads/pubsub.js'

interface Variant {
  name: string
  /** Relay arguments, and what watches the relay while the row runs (returns its stop). */
  setup(): Promise<{ args: string[]; watch: () => () => Promise<string> }>
}

/** Scrapes /metrics every second; its stop says how many scrapes succeeded. */
function scraper(url: string): () => () => Promise<string> {
  return () => {
    let ok = 0
    let bytes = 0
    const timer = setInterval(() => {
      fetch(`${url}/metrics`).then(async (r) => { bytes += (await r.text()).length; if (r.ok) ok++ }, () => {})
    }, 1000)
    return async () => {
      clearInterval(timer)
      return `${ok} scrapes of ~${ok > 0 ? Math.round(bytes / ok / 1024) : 0} KiB`
    }
  }
}

/** Keeps a dashboard's event stream open (what a browser on the page does). */
function dashboard(url: string): () => Promise<string> {
  const ac = new AbortController()
  let events = 0
  const open = (): void => {
    fetch(`${url}/events`, { signal: ac.signal }).then(async (res) => {
      const reader = res.body!.getReader()
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        events += (new TextDecoder().decode(value).match(/^event: /gm) ?? []).length
      }
    }, () => { if (!ac.signal.aborted) setTimeout(open, 200) }) // the relay may not listen yet
  }
  open()
  return async () => {
    ac.abort()
    return `${events} dashboard events`
  }
}

const VARIANTS: Variant[] = [
  { name: 'plain', setup: async () => ({ args: [], watch: () => async () => '' }) },
  {
    name: '--metrics (scraped 1/s)',
    setup: async () => {
      const addr = `127.0.0.1:${await freePort()}`
      return { args: ['--metrics', addr], watch: scraper(`http://${addr}`) }
    },
  },
  {
    name: '--metrics --ui (scraped, dashboard open)',
    setup: async () => {
      const addr = `127.0.0.1:${await freePort()}`
      const scrape = scraper(`http://${addr}`)
      return {
        args: ['--metrics', addr, '--ui', addr],
        watch: () => {
          const a = scrape()
          const b = dashboard(`http://${addr}`)
          return async () => `${await a()}, ${await b()}`
        },
      }
    },
  },
]

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

const metric = (r: RunResult, key: string): number => r.metrics.find((m) => m.key === key)?.value ?? NaN

/**
 * The CPU one scrape costs a relay whose label sets are full: 200 clusters with requests and
 * 200 topics with events (the caps), in this process. Median of `n` scrapes, ms.
 */
async function scrapeCost(n: number): Promise<{ ms: number; bytes: number }> {
  const relay = createRelay({ port: false, logger: silentLogger }, { overlay: new MemoryNetwork().node('a'), clock: new ManualClock() })
  await relay.start()
  const conn = await connect({ socket: relay.connectInProcess() })
  for (let i = 0; i < 200; i++) {
    await conn.publish(`topic-${i}`, 'x')
    await conn.request(`cluster-${i}`, 'x', { timeoutMs: 1000 }).catch(() => {})
  }
  const registry = createRelayMetrics({ parts: relay.parts })
  for (let i = 0; i < 10; i++) await registry.metrics() // warm: the first scrapes are the JIT's
  const times: number[] = []
  let bytes = 0
  for (let i = 0; i < n; i++) {
    const t0 = process.cpuUsage()
    bytes = (await registry.metrics()).length
    const c = process.cpuUsage(t0)
    times.push((c.user + c.system) / 1000)
  }
  await conn.close()
  await relay.stop()
  return { ms: median(times), bytes }
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { runs: { type: 'string' }, seconds: { type: 'string' }, smoke: { type: 'boolean' }, 'no-save': { type: 'boolean' } } })
  const smoke = values.smoke === true
  const runs = Number(values.runs ?? (smoke ? 1 : 9))
  const seconds = Number(values.seconds ?? (smoke ? 0.5 : 3))
  if (!Number.isInteger(runs) || runs < 1 || !(seconds > 0)) {
    console.error('usage: npm run bench:metrics -- [--runs N] [--seconds S] [--smoke] [--no-save]')
    return 2
  }
  const row = pubsub1.rows.find((r) => r.name === 'pubsub-1-64')!
  const results = new Map<string, RunResult[]>(VARIANTS.map((v) => [v.name, []]))
  const notes: string[] = []
  for (let i = 1; i <= runs; i++) {
    for (const v of VARIANTS) {
      const { args, watch } = await v.setup()
      const opts: RunOptions = {
        smoke, warmupMs: smoke ? 200 : 1000, seconds, requests: 0, rate: 0, streamRate: 0, relayNodeArgs: [], relayArgs: args, // rates: latency rows only
        ...(smoke ? { messages: 20_000 } : {}), label: `${row.name} ${v.name} #${i}`, progress: (line) => console.error(line),
      }
      console.error(`-- ${opts.label}`)
      const stop = watch()
      let r: RunResult
      try {
        r = await row.run('herald', opts)
      } finally {
        const said = await stop()
        if (said !== '' && i === 1) notes.push(`${v.name}: ${said} in run 1`)
      }
      if (r.failures.length > 0) throw new Error(`${opts.label}: ${r.failures.join('; ')}`)
      results.get(v.name)!.push(r)
      console.error(`   delivered ${Math.round(metric(r, 'deliveredPerSec')).toLocaleString('en-US')} msg/s`)
    }
  }
  const plain = results.get('plain')!.map((r) => metric(r, 'deliveredPerSec'))
  const plainCpu = results.get('plain')!.map((r) => metric(r, 'relayCpuMicrosPer'))
  const base = median(plain)
  const rows = VARIANTS.map((v) => {
    const rs = results.get(v.name)!
    const delivered = median(rs.map((r) => metric(r, 'deliveredPerSec')))
    return {
      variant: v.name, runs: rs.map((r) => Math.round(metric(r, 'deliveredPerSec'))), deliveredPerSec: Math.round(delivered),
      ratio: delivered / base,
      pairedRatio: median(rs.map((r, i) => metric(r, 'deliveredPerSec') / plain[i]!)),
      relayCpuMicrosPerMsg: median(rs.map((r) => metric(r, 'relayCpuMicrosPer'))),
      pairedCpuRatio: median(rs.map((r, i) => metric(r, 'relayCpuMicrosPer') / plainCpu[i]!)),
    }
  })
  const scrape = await scrapeCost(smoke ? 5 : 50)
  notes.push(`one scrape with full label sets (200 clusters, 200 topics; ${Math.round(scrape.bytes / 1024)} KiB of text) costs the relay ${scrape.ms.toFixed(1)} ms of CPU (median of ${smoke ? 5 : 50}): ${(scrape.ms / 15_000 * 100).toFixed(3)}% of a core at a 15 s scrape interval`)
  const pct = (x: number): string => `${(x * 100).toFixed(1)}%`
  const table = [
    '| relay | delivered msg/s (median) | vs plain (medians) | vs plain (median of rounds) | relay CPU µs/msg | CPU vs plain (median of rounds) | runs (delivered msg/s) |',
    '|---|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.variant} | ${r.deliveredPerSec.toLocaleString('en-US')} | ${pct(r.ratio)} | ${pct(r.pairedRatio)} | ${r.relayCpuMicrosPerMsg.toFixed(2)} | ${pct(r.pairedCpuRatio)} | ${r.runs.map((n) => n.toLocaleString('en-US')).join(', ')} |`),
  ].join('\n')
  console.log(`\npubsub-1-64 (1 publisher -> relay -> 1 subscriber, 64 B), ${runs} run${runs === 1 ? '' : 's'} per variant, ${seconds} s measured, interleaved\n`)
  console.log(table)
  for (const n of notes) console.log(`- ${n}`)
  if (!smoke && values['no-save'] !== true) {
    const dir = join(ROOT, 'bench/results')
    mkdirSync(dir, { recursive: true })
    const date = new Date()
    const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-')
    writeFileSync(join(dir, `metrics-cost-${stamp}.json`), JSON.stringify({ date: date.toISOString(), runs, seconds, rows, notes }, null, 2) + '\n')
    writeFileSync(join(dir, 'metrics-cost-latest.md'), `# The cost of --metrics and --ui (latest run)\n\n${date.toISOString()}: \`npm run bench:metrics\`, ` +
      `${runs} runs per variant, ${seconds} s measured each, interleaved.\n\n${table}\n\n${notes.map((n) => `- ${n}`).join('\n')}\n`)
    console.log(`\nsaved bench/results/metrics-cost-${stamp}.json, bench/results/metrics-cost-latest.md`)
  }
  return 0
}

let code = 1
try {
  code = await main()
} catch (err) {
  console.error(`bench:metrics: ${err instanceof Error ? err.message : String(err)}`)
} finally {
  await killWorkers()
  await killAll()
}
process.exit(code)
