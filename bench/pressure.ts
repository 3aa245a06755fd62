/**
 * bench:pressure — Herald and NATS side by side under each pressure profile: two servers with
 * one pressure proxy on the path between them (bench/pressure-pairs.ts), a client on A and a
 * member/subscriber on B, each in a process of its own (bench/workers/pressure-worker.ts).
 * Per profile and system, in turn:
 *
 *   requests  `--concurrency` requests always in flight for `--seconds`, 64 B, timeout 10 s:
 *             how many succeed, p50 and p99 of those that do
 *   pub/sub   256 B events offered at `--rate` a second (200: 51 kB/s, within 1 Mbit/s) for
 *             `--seconds`, then up to 60 s for what is in flight: delivered per second, how
 *             many never arrived, p99 of the publish-to-delivery delay (and any out of order)
 *   tunnel    (Herald) 64 KiB messages as fast as flow control allows for `--seconds`: MB/s
 *             that reached the member, and when and how the tunnel broke if it did (core NATS
 *             has no ordered, flow-controlled stream)
 *
 *   npm run bench:pressure                      every profile (~5 min)
 *   npm run bench:pressure -- --profiles lossy-wan,wan --seconds 10 --no-nats --no-save
 *
 * Results: bench/results/pressure-<time>.json and bench/results/pressure-latest.md.
 */
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { profileNames } from '@herald/pressure'
import { cleanup } from '@herald/testkit'
import { ROOT, killAll, spawnNode } from '../test/harness.js'
import { AgentClient } from '../test/pressure/agent-client.js'
import { startPair, type Pair } from './pressure-pairs.js'
import { killNatsServers, natsServerPath } from './servers.js'
import type { System } from './workers/client.js'

const { values } = parseArgs({
  options: {
    profiles: { type: 'string' }, seconds: { type: 'string' }, concurrency: { type: 'string' }, rate: { type: 'string' },
    'no-nats': { type: 'boolean' }, 'no-save': { type: 'boolean' }, seed: { type: 'string' }, help: { type: 'boolean' },
  },
})
if (values.help === true) {
  process.stdout.write('usage: npm run bench:pressure -- [--profiles a,b] [--seconds 5] [--concurrency 8] [--rate 200] [--seed 1] [--no-nats] [--no-save]\n')
  process.exit(0)
}
const PROFILES = values.profiles?.split(',') ?? ['none', 'lan', 'wan', 'lossy-wan', 'satellite', 'mobile', 'edge']
for (const p of PROFILES) {
  if (!profileNames().includes(p)) {
    process.stderr.write(`bench:pressure: unknown profile "${p}" (known: ${profileNames().join(', ')})\n`)
    process.exit(2)
  }
}
const SECONDS = Number(values.seconds ?? 5)
const CONCURRENCY = Number(values.concurrency ?? 8)
const RATE = Number(values.rate ?? 200)
const SEED = Number(values.seed ?? 1)
const systems: System[] = values['no-nats'] === true || natsServerPath() === undefined ? ['herald'] : ['herald', 'nats']
const NAMES = { cluster: 'svc', topic: 'ev', tunnelCluster: 'bulk' }

export interface Row {
  profile: string
  system: System
  requests: { sent: number; ok: number; errors: number; errorNames: Record<string, number>; p50Ms: number; p99Ms: number }
  pubsub: { published: number; delivered: number; lost: number; outOfOrder: number; publishSeconds: number; deliveredPerSecond: number; p50Ms: number; p99Ms: number }
  tunnel: { MBps: number; brokeAfterSeconds?: number; error?: string } | undefined
}

const log = (line: string): void => { process.stderr.write(`${line}\n`) }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function worker(system: System, port: number, name: string): AgentClient {
  const p = spawnNode(join(ROOT, 'bench/workers/pressure-worker.ts'), ['--system', system, '--port', String(port)], { nodeArgs: ['--import', 'tsx'] })
  return new AgentClient(name, p.child)
}

/**
 * Starts a fresh pair with the profile on, a client worker on A and a serving worker on B, and
 * runs `fn`. Each measure gets its own pair: what one leaves queued on a slow path (a flood of
 * events takes minutes to drain at 1 Mbit/s) must not be what the next one measures.
 */
async function withPair<T>(profile: string, system: System, fn: (a: AgentClient, b: AgentClient) => Promise<T>): Promise<T> {
  const pair: Pair = await startPair(system, SEED)
  try {
    const [a, b] = [worker(system, pair.ports[0], 'client on A'), worker(system, pair.ports[1], 'member on B')]
    await Promise.all([a.ready, b.ready])
    await b.call('serve', system === 'herald' ? NAMES : { cluster: NAMES.cluster, topic: NAMES.topic })
    await pair.ready(system === 'herald' ? NAMES : { cluster: NAMES.cluster, topic: NAMES.topic })
    pair.pressure(profile)
    return await fn(a, b)
  } finally {
    await killAll()
    await pair.stop().catch(() => {})
    await cleanup()
  }
}

async function measure(profile: string, system: System): Promise<Row> {
  log(`  ${profile} ${system}: requests for ${SECONDS} s ...`)
  const requests = await withPair(profile, system, (a) =>
    a.call<Row['requests']>('requests', { cluster: NAMES.cluster, seconds: SECONDS, concurrency: CONCURRENCY, timeoutMs: 10_000, bytes: 64 }, SECONDS * 1000 + 60_000))
  log(`  ${profile} ${system}: pub/sub for ${SECONDS} s ...`)
  const pubsub = await withPair(profile, system, async (a, b) => {
    const pub = await a.call<{ published: number; seconds: number }>('publish', { topic: NAMES.topic, seconds: SECONDS, bytes: 256, perSecond: RATE }, SECONDS * 1000 + 120_000)
    // What is still in flight lands (or does not): wait until the count stops moving.
    type Rx = { events: number; outOfOrder: number; p50Ms: number; p99Ms: number }
    let rx = await b.call<Rx>('received')
    // Quiet means nothing for 10 s: longer than a retransmission stall of a lossy profile.
    for (let quiet = 0, waited = 0; quiet < 10 && waited < 60 && rx.events < pub.published; waited++) {
      await sleep(1000)
      const now = await b.call<Rx>('received')
      quiet = now.events === rx.events ? quiet + 1 : 0
      rx = now
    }
    return {
      published: pub.published, delivered: rx.events, lost: pub.published - rx.events, outOfOrder: rx.outOfOrder,
      publishSeconds: pub.seconds, deliveredPerSecond: rx.events / pub.seconds, p50Ms: rx.p50Ms, p99Ms: rx.p99Ms,
    }
  })
  let tunnel: Row['tunnel']
  if (system === 'herald') {
    log(`  ${profile} ${system}: tunnel for ${SECONDS} s ...`)
    tunnel = await withPair(profile, system, async (a, b) => {
      const t0 = Date.now()
      const r = await a.call<{ seconds: number; error?: string }>('tunnel', { cluster: NAMES.tunnelCluster, seconds: SECONDS, bytes: 64 * 1024 }, SECONDS * 1000 + 120_000)
      const MBps = (await b.call<{ tunnelBytes: number }>('received')).tunnelBytes / 2 ** 20 / ((Date.now() - t0) / 1000)
      return r.error === undefined ? { MBps } : { MBps, brokeAfterSeconds: r.seconds, error: r.error }
    })
  }
  return { profile, system, requests, pubsub, tunnel }
}

const f1 = (x: number): string => (Number.isFinite(x) ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : '—')
const rate = (x: number): string => (x >= 1e4 ? `${(x / 1e3).toFixed(0)}k` : x.toFixed(0))

function tunnelCell(t: Row['tunnel']): string {
  if (t === undefined) return '—'
  return t.error === undefined ? t.MBps.toFixed(2) : `${t.MBps.toFixed(2)}, broke after ${t.brokeAfterSeconds!.toFixed(1)} s (${t.error})`
}

export function table(rows: Row[]): string {
  const lines = [
    `| profile | system | requests ok | request p50 ms | request p99 ms | events delivered/s (of ${RATE}/s) | events lost | event p99 ms | tunnel MB/s |`,
    '|---|---|---|---|---|---|---|---|---|',
  ]
  for (const r of rows) {
    const ok = `${((r.requests.ok / Math.max(1, r.requests.sent)) * 100).toFixed(1)}% of ${r.requests.sent}`
    lines.push(`| ${r.profile} | ${r.system === 'herald' ? 'Herald' : 'NATS'} | ${ok} | ${f1(r.requests.p50Ms)} | ${f1(r.requests.p99Ms)} | ${rate(r.pubsub.deliveredPerSecond)} | ${r.pubsub.lost}${r.pubsub.outOfOrder > 0 ? ` (${r.pubsub.outOfOrder} out of order)` : ''} | ${f1(r.pubsub.p99Ms)} | ${tunnelCell(r.tunnel)} |`)
  }
  return lines.join('\n')
}

const rows: Row[] = []
const started = new Date()
try {
  for (const profile of PROFILES) {
    for (const system of systems) {
      log(`${profile} / ${system}`)
      rows.push(await measure(profile, system))
    }
  }
} catch (err) {
  log(`bench:pressure: ${err instanceof Error ? err.message : String(err)}`)
  await killAll()
  await killNatsServers()
  await cleanup()
  process.exit(1)
}

let commit = ''
try { commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim() } catch { /* not a checkout */ }
const md = [
  `# bench:pressure — ${started.toISOString()}`,
  '',
  `${SECONDS} s per measure, ${CONCURRENCY} requests in flight, events offered at ${RATE}/s, seed ${SEED}; commit ${commit || '?'}, node ${process.version}, load average ${execFileSync('cat', ['/proc/loadavg'], { encoding: 'utf8' }).split(' ').slice(0, 3).join(' ')}.`,
  '',
  table(rows),
  '',
].join('\n')
process.stdout.write(`\n${md}`)
if (values['no-save'] !== true) {
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const stamp = started.toISOString().replace(/[:.]/g, '-').slice(0, 19)
  writeFileSync(join(dir, `pressure-${stamp}.json`), JSON.stringify({ started, seconds: SECONDS, concurrency: CONCURRENCY, rate: RATE, seed: SEED, commit, node: process.version, rows }, null, 2) + '\n')
  writeFileSync(join(dir, 'pressure-latest.md'), md)
  log(`saved bench/results/pressure-${stamp}.json and bench/results/pressure-latest.md`)
}
process.exit(0)
