/**
 * The control plane at 100, 1,000 and 10,000 relays, simulated: the relay's own membership and
 * dissemination code (packages/node/src/directory/membership*.ts) on the discrete-event
 * simulator (packages/node/src/sim) — a virtual clock and TCP-like links with latency, jitter
 * and loss. Ten thousand relays do not fit on two cores as processes; as simulated relays
 * they do, and each protocol step is the real one.
 *
 *   npm run bench:sim [-- --sizes 100,1000,10000] [--lossy-seconds 60] [--smoke] [--no-save]
 *
 * Per size: idle messages and bytes per relay per second; a new cluster's dissemination
 * (rounds = hops of the flood, and time); a killed relay's time to leave every view; a new
 * relay's time to be in every view; and under 250 ± 50 ms one-way delay with 10% loss, the
 * suspicions raised, false deaths and message rate. Up to 1,000 relays also bootstrap from
 * scratch (each joining through one contact). Results: bench/results/sim-<date>.json and
 * sim-latest.md, and docs/img/scaling-sim.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ROOT } from '../test/harness.js'
import { bootstrapNetwork, convergedNetwork } from '../packages/node/src/sim/build.js'
import type { SimNetwork, SimNode } from '../packages/node/src/sim/network.js'
import { chart } from './svg.js'

const CLEAN = { latencyMs: 5, jitterMs: 1 }
const LOSSY = { latencyMs: 250, jitterMs: 50, loss: 0.1 }

export interface SizeResult {
  n: number
  buildMs: number
  idle: { msgsPerRelayPerSec: number; bytesPerRelayPerSec: number; degreeMin: number; degreeMax: number }
  dissemination: { rounds: number; medianHops: number; msToAll: number }
  kill: { msToGone: number }
  join: { msToInAllViews: number }
  lossy: { seconds: number; suspicionsPerRelayPerMin: number; falseDeaths: number; msgsPerRelayPerSec: number; viewsComplete: boolean }
  bootstrap: { msToComplete: number } | undefined
  realSeconds: number
}

function log(msg: string): void {
  process.stderr.write(`sim: ${msg}\n`)
}

function liveComplete(net: SimNetwork): boolean {
  return net.completeViews() === net.nodes.filter((x) => x.alive).length
}

function hopsOf(net: SimNetwork, src: SimNode, cluster: string): Int32Array {
  const hops = new Int32Array(net.nodes.length).fill(-1)
  hops[src.idx] = 0
  net.hopOf = (from, msg) => (msg.t === 'gossip' && hops[from]! >= 0 ? hops[from]! + 1 : undefined)
  net.observer = {
    data: (o, node, data) => {
      if (node === src.id && data.clusters.has(cluster) && hops[o]! < 0) hops[o] = net.currentHop ?? 1
    },
  }
  return hops
}

export function simulateSize(n: number, lossySeconds: number, idleSeconds: number): SizeResult {
  const started = performance.now()
  const t0 = performance.now()
  const net = convergedNetwork(n, { ...CLEAN, seed: 42 })
  const buildMs = Math.round(performance.now() - t0)
  log(`${n}: built in ${buildMs} ms`)

  net.runFor(5000)
  net.measureBytes = true
  const sent0 = net.nodes.reduce((s, x) => s + x.sent, 0)
  net.runFor(idleSeconds * 1000)
  net.measureBytes = false
  const msgs = net.nodes.reduce((s, x) => s + x.sent, 0) - sent0
  const bytes = net.nodes.reduce((s, x) => s + x.sentBytes, 0)
  const degrees = net.nodes.map((x) => x.membership.degree)
  const idle = {
    msgsPerRelayPerSec: msgs / n / idleSeconds,
    bytesPerRelayPerSec: bytes / n / idleSeconds,
    degreeMin: Math.min(...degrees),
    degreeMax: Math.max(...degrees),
  }
  log(`${n}: idle ${idle.msgsPerRelayPerSec.toFixed(1)} msg/s, ${idle.bytesPerRelayPerSec.toFixed(0)} B/s per relay`)

  const src = net.nodes[1]!
  const hops = hopsOf(net, src, 'databases')
  src.membership.setData({ addrs: ['/sim/1'], clusters: new Map([['databases', 1]]), topics: new Set() })
  const msToAll = net.runUntil(() => !hops.includes(-1), 60_000, 1)
  const sorted = [...hops].sort((a, b) => a - b)
  const dissemination = { rounds: sorted[sorted.length - 1]!, medianHops: sorted[sorted.length >> 1]!, msToAll }
  net.observer = {}
  net.hopOf = undefined
  log(`${n}: a new cluster reached every relay in ${msToAll} ms, ${dissemination.rounds} rounds`)

  const victim = net.nodes[7]!
  net.kill(victim)
  const kill = { msToGone: net.runUntil(() => net.viewersOf(victim) === 0, 30_000, 10) }
  log(`${n}: killed relay gone from every view in ${kill.msToGone} ms`)

  const late = net.add()
  late.membership.store.reserve(n + 1)
  late.membership.addContact(net.nodes[0]!.id, ['/sim/0'])
  late.membership.start()
  const join = { msToInAllViews: net.runUntil(() => net.viewersOf(late) === n - 1, 30_000, 10) }
  log(`${n}: a joining relay was in every view after ${join.msToInAllViews} ms`)

  net.latencyMs = LOSSY.latencyMs
  net.jitterMs = LOSSY.jitterMs
  net.loss = LOSSY.loss
  net.runFor(10_000)
  const deaths0 = net.nodes.reduce((s, x) => s + x.membership.stats.deathsDeclared, 0)
  const sus0 = net.nodes.reduce((s, x) => s + x.membership.stats.suspicionsRaised, 0)
  const m0 = net.messages
  net.runFor(lossySeconds * 1000)
  const live = net.nodes.filter((x) => x.alive).length
  const lossy = {
    seconds: lossySeconds,
    suspicionsPerRelayPerMin: ((net.nodes.reduce((s, x) => s + x.membership.stats.suspicionsRaised, 0) - sus0) / live) * (60 / lossySeconds),
    falseDeaths: net.nodes.reduce((s, x) => s + x.membership.stats.deathsDeclared, 0) - deaths0,
    msgsPerRelayPerSec: (net.messages - m0) / live / lossySeconds,
    viewsComplete: liveComplete(net),
  }
  log(`${n}: lossy WAN ${lossy.suspicionsPerRelayPerMin.toFixed(2)} suspicions/relay/min, ${lossy.falseDeaths} false deaths, views complete: ${lossy.viewsComplete}`)

  let bootstrap: SizeResult['bootstrap']
  if (n <= 1000) {
    const b = bootstrapNetwork(n, 2000, { ...CLEAN, seed: 43 })
    bootstrap = { msToComplete: b.runUntil(() => liveComplete(b), 120_000, 50) }
    log(`${n}: bootstrap from scratch complete after ${bootstrap.msToComplete} ms`)
  }
  return { n, buildMs, idle, dissemination, kill, join, lossy, bootstrap, realSeconds: Math.round((performance.now() - started) / 1000) }
}

function markdown(results: SizeResult[], when: string): string {
  const rows = results.map((r) => `| ${r.n.toLocaleString('en')} | ${r.idle.msgsPerRelayPerSec.toFixed(1)} | ${r.idle.bytesPerRelayPerSec.toFixed(0)} | ${r.idle.degreeMin}–${r.idle.degreeMax} | ${r.dissemination.rounds} (median ${r.dissemination.medianHops}) | ${r.dissemination.msToAll} | ${r.kill.msToGone} | ${r.join.msToInAllViews} | ${r.bootstrap?.msToComplete ?? '—'} | ${r.lossy.suspicionsPerRelayPerMin.toFixed(2)} | ${r.lossy.falseDeaths} | ${r.lossy.msgsPerRelayPerSec.toFixed(1)} |`)
  return `# Control-plane simulation (${when})

\`npm run bench:sim\`: the relay's membership code on a virtual clock and network. Clean network:
${CLEAN.latencyMs} ± ${CLEAN.jitterMs} ms one way. Lossy: ${LOSSY.latencyMs} ± ${LOSSY.jitterMs} ms one way and ${LOSSY.loss * 100}% loss
(a lost segment waits a retransmission timeout, holding back what follows, as TCP does).

| relays | idle msg/s per relay | idle B/s per relay | degree | new cluster: rounds | new cluster: ms to all | killed: ms to gone | joined: ms to every view | bootstrap from scratch: ms | lossy: suspicions/relay/min | lossy: false deaths | lossy: msg/s per relay |
|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|
${rows.join('\n')}
`
}

function svg(results: SizeResult[]): string {
  const by = (f: (r: SizeResult) => number): Array<[number, number]> => results.map((r) => [r.n, f(r)])
  return chart([
    { title: 'Dissemination rounds', xLabel: 'relays (log)', yLabel: 'hops to the last relay', logX: true, series: [{ name: 'rounds', points: by((r) => r.dissemination.rounds) }, { name: 'median', points: by((r) => r.dissemination.medianHops) }] },
    { title: 'Idle messages per relay', xLabel: 'relays (log)', yLabel: 'messages / s', logX: true, series: [{ name: 'clean', points: by((r) => r.idle.msgsPerRelayPerSec) }, { name: 'lossy WAN', points: by((r) => r.lossy.msgsPerRelayPerSec) }] },
    { title: 'Convergence', xLabel: 'relays (log)', yLabel: 'ms', logX: true, series: [{ name: 'new cluster to all', points: by((r) => r.dissemination.msToAll) }, { name: 'killed relay gone', points: by((r) => r.kill.msToGone) }, { name: 'joined relay seen', points: by((r) => r.join.msToInAllViews) }] },
  ])
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' },
      'lossy-seconds': { type: 'string' },
      smoke: { type: 'boolean' },
      'no-save': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    process.stdout.write('usage: npm run bench:sim -- [--sizes 100,1000,10000] [--lossy-seconds 60] [--smoke] [--no-save]\n')
    return
  }
  const smoke = values.smoke === true
  const sizes = (values.sizes ?? (smoke ? '50,200' : '100,1000,10000')).split(',').map(Number)
  if (sizes.some((s) => !Number.isInteger(s) || s < 3)) throw new Error('--sizes: integers >= 3, comma separated')
  const lossySeconds = Number(values['lossy-seconds'] ?? (smoke ? 20 : 60))
  const results: SizeResult[] = []
  for (const n of sizes) results.push(simulateSize(n, lossySeconds, smoke ? 5 : 20))
  const when = new Date().toISOString()
  const md = markdown(results, when)
  process.stdout.write(md)
  const failures = results.filter((r) => r.lossy.falseDeaths > 0 || !r.lossy.viewsComplete || r.kill.msToGone < 0 || r.dissemination.msToAll < 0 || r.join.msToInAllViews < 0)
  if (!smoke && values['no-save'] !== true) {
    const dir = join(ROOT, 'bench/results')
    mkdirSync(dir, { recursive: true })
    const stamp = when.replace(/[:.]/g, '-').slice(0, 19)
    writeFileSync(join(dir, `sim-${stamp}.json`), JSON.stringify({ when, clean: CLEAN, lossy: LOSSY, results }, null, 2))
    writeFileSync(join(dir, 'sim-latest.md'), md)
    mkdirSync(join(ROOT, 'docs/img'), { recursive: true })
    writeFileSync(join(ROOT, 'docs/img/scaling-sim.svg'), svg(results))
  }
  if (failures.length > 0) {
    process.stderr.write(`sim: FAILED at ${failures.map((r) => r.n).join(', ')} relays (false deaths, incomplete views or no convergence)\n`)
    process.exitCode = 1
  }
}

await main()
