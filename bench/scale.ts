/**
 * The control plane with real relays: N relays (libp2p over TCP on loopback, Noise, Yamux;
 * several relays per process so that 100 fit on two cores), for N = 10, 25, 50, 100.
 *
 *   npm run bench:scale [-- --sizes 10,25,50,100] [--per-process 10] [--idle-seconds 20]
 *                       [--flap-seconds 120] [--smoke] [--no-save]
 *
 * Per size: relay 1 starts alone (the bootstrap); the others start in worker processes, each
 * knowing only relay 1; one more relay runs alone in its own process, to be SIGKILLed. Then:
 *  - views: time from the last relay's ready line until every view holds all N relays;
 *  - a new cluster: a member registers at one relay (SDK, over its client port); time until
 *    every other relay's directory routes to it, then one request through every process;
 *  - idle: CPU (processes' CPU seconds / relays) and control bytes per relay per second;
 *  - RSS per relay (process RSS / relays in it: shared code counts once per process);
 *  - kill: SIGKILL of the lone relay; time until no view holds it;
 *  - flaps (largest size only, --flap-seconds): relays leaving a view while nothing died.
 * Also the idle cost with one relay per process at N = 2 and N = 10 (the scale rule's check).
 * Results: bench/results/scale-<date>.json, scale-latest.md, docs/img/scaling-real.svg.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { connect, register } from '@herald/client'
import { RELAY_NODE_FLAGS, ROOT, killAll, spawnNode, type Proc } from '../test/harness.js'
import { TSX } from './driver.js'
import { onJsonLines } from './lines.js'
import { cpuSecondsOf } from './proc-stats.js'
import { chart } from './svg.js'

type Msg = Record<string, unknown>

/** A worker process of bench/workers/relays.ts, with a queue of its JSON lines by event. */
class RelayProcess {
  readonly proc: Proc
  readonly ready: Array<{ nodeId: string; port: number; addrs: string[] }> = []
  private readonly waiting = new Map<string, Array<(m: Msg) => void>>()
  private readonly backlog = new Map<string, Msg[]>()

  constructor(readonly count: number, bootstrap: string | undefined, network = 'bench-scale') {
    // Relays run as the herald launcher runs them (a 4 MiB young generation: RELAY_NODE_FLAGS).
    this.proc = spawnNode(join(ROOT, 'bench/workers/relays.ts'), ['--count', String(count), '--network', network, ...(bootstrap !== undefined ? ['--bootstrap', bootstrap] : [])],
      { nodeArgs: [...RELAY_NODE_FLAGS, ...TSX] })
    onJsonLines(this.proc, (m) => {
      const ev = String(m['event'])
      if (ev === 'ready') this.ready.push(m as unknown as RelayProcess['ready'][number])
      const w = this.waiting.get(ev)
      if (w !== undefined && w.length > 0) w.shift()!(m)
      else this.backlog.set(ev, [...(this.backlog.get(ev) ?? []), m])
    })
  }

  next(event: string, timeoutMs = 120_000): Promise<Msg> {
    const queued = this.backlog.get(event)
    if (queued !== undefined && queued.length > 0) return Promise.resolve(queued.shift()!)
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${event}" from a relay process within ${timeoutMs} ms\n${this.proc.stderr().slice(-2000)}`)), timeoutMs)
      const list = this.waiting.get(event) ?? []
      list.push((m) => { clearTimeout(timer); resolve(m) })
      this.waiting.set(event, list)
    })
  }

  async ask(cmd: Msg, event: string): Promise<Msg> {
    const p = this.next(event)
    this.proc.child.stdin!.write(`${JSON.stringify(cmd)}\n`)
    return p
  }

  async allReady(): Promise<void> {
    while (this.ready.length < this.count) await this.next('ready')
  }
}

export interface SizeResult {
  n: number
  processes: number
  viewsCompleteMs: number
  clusterRoutableMs: number
  killedGoneMs: number
  idleCoresPerRelay: number
  controlBytesPerRelayPerSec: number
  rssMiBPerRelay: number
  linksPerRelay: number
  flaps: number | undefined
  flapSeconds: number | undefined
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const log = (m: string): void => { process.stderr.write(`scale: ${m}\n`) }

async function measureSize(n: number, perProcess: number, idleSeconds: number, flapSeconds: number | undefined): Promise<SizeResult> {
  const seed = new RelayProcess(1, undefined)
  await seed.allReady()
  const boot = seed.ready[0]!.addrs[0]!
  const rest = n - 2
  const procs: RelayProcess[] = [seed]
  for (let left = rest; left > 0; left -= perProcess) procs.push(new RelayProcess(Math.min(perProcess, left), boot))
  const victim = new RelayProcess(1, boot)
  procs.push(victim)
  await Promise.all(procs.map((p) => p.allReady()))
  const lastReady = Date.now()
  log(`${n}: all ${n} relays ready in ${procs.length} processes`)

  // Views: every relay holds the N-1 others.
  const complete = await Promise.all(procs.map((p) => p.ask({ cmd: 'watch-complete', size: n - 1 }, 'complete')))
  const viewsCompleteMs = Math.max(...complete.map((m) => Number(m['at']))) - lastReady
  log(`${n}: every view complete ${viewsCompleteMs} ms after the last ready line`)

  // A new cluster, registered at a relay of the last worker process.
  const host = procs[procs.length - 2]!.ready[0]!
  const cluster = `bench-${n}`
  const routable = Promise.all(procs.map((p) => p.ask({ cmd: 'watch-cluster', cluster }, 'cluster')))
  const registeredAt = Date.now()
  const svc = await register({ port: host.port, cluster, handler: { handleRequest: (req) => req } })
  const clusterRoutableMs = Math.max(...(await routable).map((m) => Number(m['at']))) - registeredAt
  for (const p of procs) {
    const c = await connect({ port: p.ready[0]!.port })
    try {
      await c.request(cluster, 'ping', { timeoutMs: 10_000 })
    } finally {
      await c.close()
    }
  }
  await svc.close()
  log(`${n}: the new cluster was routable from every relay after ${clusterRoutableMs} ms (and answered through every process)`)

  // Idle cost.
  await sleep(3000)
  const s0 = await Promise.all(procs.map((p) => p.ask({ cmd: 'stats' }, 'stats')))
  const cpu0 = procs.map((p) => cpuSecondsOf(p.proc.pid))
  await sleep(idleSeconds * 1000)
  const s1 = await Promise.all(procs.map((p) => p.ask({ cmd: 'stats' }, 'stats')))
  const cpu1 = procs.map((p) => cpuSecondsOf(p.proc.pid))
  const cpu = cpu1.reduce((s, c, k) => s + c - cpu0[k]!, 0)
  const ctl = s1.reduce((s, m, k) => s + Number(m['controlBytesOut']) - Number(s0[k]!['controlBytesOut']), 0)
  const rss = s1.reduce((s, m) => s + Number(m['rss']), 0)
  const links = s1.reduce((s, m) => s + Number(m['links']), 0)
  const idleCoresPerRelay = cpu / idleSeconds / n
  log(`${n}: idle ${(idleCoresPerRelay * 1000).toFixed(1)} millicores and ${(ctl / n / idleSeconds).toFixed(0)} control B/s per relay; ${(rss / n / 2 ** 20).toFixed(1)} MiB RSS per relay`)

  // Flaps: nothing dies; no relay may leave any view.
  let flaps: number | undefined
  if (flapSeconds !== undefined) {
    await Promise.all(procs.map((p) => p.ask({ cmd: 'reset-downs' }, 'reset')))
    log(`${n}: watching for flaps for ${flapSeconds} s`)
    await sleep(flapSeconds * 1000)
    flaps = (await Promise.all(procs.map((p) => p.ask({ cmd: 'stats' }, 'stats')))).reduce((s, m) => s + Number(m['downs']), 0)
    log(`${n}: ${flaps} flaps in ${flapSeconds} s`)
  }

  // SIGKILL the lone relay.
  const dead = victim.ready[0]!.nodeId
  const others = procs.filter((p) => p !== victim)
  const gone = Promise.all(others.map((p) => p.ask({ cmd: 'watch-gone', node: dead }, 'gone')))
  const killedAt = Date.now()
  victim.proc.kill('SIGKILL')
  const killedGoneMs = Math.max(...(await gone).map((m) => Number(m['at']))) - killedAt
  log(`${n}: the killed relay left every view after ${killedGoneMs} ms`)

  for (const p of others) p.proc.kill('SIGTERM')
  await Promise.all(others.map((p) => Promise.race([p.proc.exited, sleep(5000)])))
  await killAll()
  return {
    n, processes: procs.length, viewsCompleteMs, clusterRoutableMs, killedGoneMs, idleCoresPerRelay,
    controlBytesPerRelayPerSec: ctl / n / idleSeconds, rssMiBPerRelay: rss / n / 2 ** 20, linksPerRelay: links / (n - 1),
    flaps, flapSeconds,
  }
}

/**
 * Idle CPU per relay with one relay per process (what a host running one relay pays), for
 * networks of each size in `sizes`, all running at once so that the machine's other load
 * weighs on every size alike (a ratio between sizes is what the scale rule is about).
 */
async function idleOnePerProcess(sizes: number[], seconds: number): Promise<Record<string, number>> {
  const groups: RelayProcess[][] = []
  for (const n of sizes) {
    const seed = new RelayProcess(1, undefined, `idle-${n}`)
    await seed.allReady()
    groups.push([seed, ...Array.from({ length: n - 1 }, () => new RelayProcess(1, seed.ready[0]!.addrs[0]!, `idle-${n}`))])
  }
  await Promise.all(groups.flat().map((p) => p.allReady()))
  await Promise.all(groups.map((g) => Promise.all(g.map((p) => p.ask({ cmd: 'watch-complete', size: g.length - 1 }, 'complete')))))
  await sleep(10_000)
  const c0 = groups.map((g) => g.map((p) => cpuSecondsOf(p.proc.pid)))
  await sleep(seconds * 1000)
  const out: Record<string, number> = {}
  groups.forEach((g, k) => {
    const used = g.reduce((s, p, i) => s + cpuSecondsOf(p.proc.pid) - c0[k]![i]!, 0)
    out[String(g.length)] = used / seconds / g.length
  })
  for (const p of groups.flat()) p.proc.kill('SIGTERM')
  await Promise.all(groups.flat().map((p) => Promise.race([p.proc.exited, sleep(5000)])))
  await killAll()
  return out
}

function markdown(results: SizeResult[], idle: Record<string, number>, when: string): string {
  const rows = results.map((r) => `| ${r.n} | ${r.processes} | ${r.viewsCompleteMs} | ${r.clusterRoutableMs} | ${r.killedGoneMs} | ${(r.idleCoresPerRelay * 1000).toFixed(1)} | ${r.controlBytesPerRelayPerSec.toFixed(0)} | ${r.rssMiBPerRelay.toFixed(1)} | ${r.linksPerRelay.toFixed(1)} | ${r.flaps === undefined ? '—' : `${r.flaps} in ${r.flapSeconds} s`} |`)
  return `# Control plane with real relays (${when})

\`npm run bench:scale\`: real relays on loopback (libp2p, TCP, Noise, Yamux), several per process.

| relays | processes | views complete after last ready (ms) | new cluster routable everywhere (ms) | killed relay gone from every view (ms) | idle millicores per relay | control B/s per relay | RSS MiB per relay | links per relay | flaps |
|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|
${rows.join('\n')}

Idle CPU per relay, one relay per process (the scale rule): ${Object.entries(idle).map(([k, v]) => `N = ${k}: ${(v * 1000).toFixed(1)} millicores`).join('; ')}${idle['2'] !== undefined && idle['10'] !== undefined ? ` (ratio ${(idle['10']! / idle['2']!).toFixed(2)})` : ''}.
`
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sizes: { type: 'string' }, 'per-process': { type: 'string' }, 'idle-seconds': { type: 'string' },
      'flap-seconds': { type: 'string' }, smoke: { type: 'boolean' }, 'no-save': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help === true) {
    process.stdout.write('usage: npm run bench:scale -- [--sizes 10,25,50,100] [--per-process 10] [--idle-seconds 20] [--flap-seconds 120] [--smoke] [--no-save]\n')
    return
  }
  const smoke = values.smoke === true
  const sizes = (values.sizes ?? (smoke ? '6' : '10,25,50,100')).split(',').map(Number)
  const perProcess = Number(values['per-process'] ?? (smoke ? 2 : 10))
  const idleSeconds = Number(values['idle-seconds'] ?? (smoke ? 3 : 20))
  const flapSeconds = Number(values['flap-seconds'] ?? (smoke ? 5 : 120))
  const results: SizeResult[] = []
  try {
    for (const [k, n] of sizes.entries()) results.push(await measureSize(n, perProcess, idleSeconds, k === sizes.length - 1 ? flapSeconds : undefined))
    const idle = smoke ? {} : await idleOnePerProcess([2, 10], Math.max(60, idleSeconds))
    const when = new Date().toISOString()
    const md = markdown(results, idle, when)
    process.stdout.write(md)
    if (!smoke && values['no-save'] !== true) {
      const stamp = when.replace(/[:.]/g, '-').slice(0, 19)
      writeFileSync(join(ROOT, 'bench/results', `scale-${stamp}.json`), JSON.stringify({ when, perProcess, idleSeconds, results, idleOnePerProcess: idle }, null, 2))
      writeFileSync(join(ROOT, 'bench/results/scale-latest.md'), md)
      mkdirSync(join(ROOT, 'docs/img'), { recursive: true })
      const by = (f: (r: SizeResult) => number): Array<[number, number]> => results.map((r) => [r.n, f(r)])
      writeFileSync(join(ROOT, 'docs/img/scaling-real.svg'), chart([
        { title: 'Convergence (real relays)', xLabel: 'relays', yLabel: 'ms', series: [{ name: 'views complete', points: by((r) => r.viewsCompleteMs) }, { name: 'new cluster routable', points: by((r) => r.clusterRoutableMs) }, { name: 'killed relay gone', points: by((r) => r.killedGoneMs) }] },
        { title: 'Idle cost per relay', xLabel: 'relays', yLabel: 'millicores', series: [{ name: 'CPU', points: by((r) => r.idleCoresPerRelay * 1000) }] },
        { title: 'Control traffic per relay', xLabel: 'relays', yLabel: 'bytes / s', series: [{ name: 'sent', points: by((r) => r.controlBytesPerRelayPerSec) }] },
      ]))
    }
    const bad = results.filter((r) => r.flaps !== undefined && r.flaps > 0)
    if (bad.length > 0) {
      process.stderr.write(`scale: views flapped at ${bad.map((r) => r.n).join(', ')} relays\n`)
      process.exitCode = 1
    }
  } finally {
    await killAll()
  }
}

await main()
