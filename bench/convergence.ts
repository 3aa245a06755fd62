/**
 * Overlay convergence: how fast N relays on loopback come to know each other, and how fast
 * they forget one that dies.
 *
 *   npx tsx bench/convergence.ts [--relays 10] [--runs 3] [--poll 25] [--victim 6] [--smoke] [--no-save]
 *
 * Each run:
 *  1. starts relay 1 (`herald relay --dev --port 0 --json`), waits for its ready line, then
 *     starts relays 2..N at once, each with `--bootstrap <relay 1's address>` (a star: every
 *     relay knows only relay 1; the others it must learn from the directory gossip);
 *  2. polls every relay's `$herald.status` every --poll ms over one SDK connection per relay,
 *     kept open, and records when every relay's view (`peers`) lists all N-1 others
 *     ("converged"), and when every listed peer is also linked (`connected`, "linked");
 *  3. SIGKILLs relay --victim and records when every other relay's view has dropped it, then
 *     keeps watching for 3 s to check that no view brings it back.
 * The tables give each run and the median over the runs. Results go to
 * bench/results/convergence-<date>.json and .md (not with --smoke or --no-save).
 *
 * Times are measured in this process (performance.now()) and include the polling interval:
 * a figure is at most one poll period plus one status round trip late.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { execSync } from 'node:child_process'
import { connect, type Connection } from '@herald/client'
import { ROOT, killAll, startRelay, type RelayProc } from '../test/harness.js'

export interface ConvergenceOptions {
  relays: number
  runs: number
  pollMs: number
  /** 1-based index of the relay to kill (never relay 1 unless asked: it is the bootstrap). */
  victim: number
  convergeTimeoutMs: number
  dropTimeoutMs: number
  /** Watch this long after the drop for the victim coming back into a view. */
  watchMs: number
  progress(line: string): void
}

export interface ConvergenceRun {
  /** Spawn of relays 2..N -> every view lists all N-1 others. */
  convergeMs: number
  /** Spawn of relays 2..N -> every view lists all N-1 others, all linked. */
  linkedMs: number
  /** Spawn of relays 2..N -> the last of their ready lines (process start-up, libp2p init). */
  lastReadyMs: number
  /** Last ready line -> converged: the overlay's own share. */
  afterReadyMs: number
  /** Per relay: spawn -> its own view complete (relay 1 included). */
  perRelayConvergeMs: number[]
  /** SIGKILL -> every other view has dropped the victim. */
  dropMs: number
  /** Per surviving relay: SIGKILL -> its view dropped the victim. */
  perRelayDropMs: number[]
  /** Views that listed the victim again during the watch period (should be 0). */
  reappeared: number
  /** 1-minute load average when the run started. */
  load1: number
  /** Lines the relays logged about failed link opens or dials (churn; 0 on a quiet machine). */
  linkFailures: number
}

export interface ConvergenceResult {
  options: Omit<ConvergenceOptions, 'progress'>
  topology: string
  runs: ConvergenceRun[]
  median: { convergeMs: number; linkedMs: number; lastReadyMs: number; afterReadyMs: number; dropMs: number }
  failures: string[]
}

interface Peer { nodeId: string; connected: boolean }

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return Number.NaN
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Polls one relay's status over a kept-open connection until stopped. */
class Poller {
  peers: Peer[] | undefined
  private stopped = false
  private readonly done: Promise<void>
  constructor(readonly index: number, private readonly conn: Connection, pollMs: number, onUpdate: () => void) {
    this.done = (async () => {
      while (!this.stopped) {
        try {
          const reply = await conn.request('$herald.status', '', { timeoutMs: 2000 })
          this.peers = (JSON.parse(Buffer.from(reply).toString('utf8')) as { peers: Peer[] }).peers
          onUpdate()
        } catch {
          if (this.stopped) break
        }
        await sleep(pollMs)
      }
    })()
  }
  async stop(): Promise<void> {
    this.stopped = true
    await this.conn.close().catch(() => {})
    await this.done
  }
}

async function oneRun(o: ConvergenceOptions, run: number): Promise<ConvergenceRun> {
  const load1 = loadavg()[0]!
  const relays: RelayProc[] = []
  const pollers: Array<Poller | undefined> = []
  let check = (): void => {}
  try {
    relays[0] = await startRelay()
    const boot = relays[0].addrs[0]!
    const t0 = performance.now()
    const started = Array.from({ length: o.relays - 1 }, (_, i) => startRelay(['--bootstrap', boot]).then((r) => {
      relays[i + 1] = r
      return { r, at: performance.now() - t0 }
    }))

    // ---- convergence ----
    const perRelay: number[] = new Array<number>(o.relays).fill(Number.NaN)
    let convergeMs = Number.NaN
    let linkedMs = Number.NaN
    let resolveConverged!: () => void
    const converged = new Promise<void>((r) => { resolveConverged = r })
    check = (): void => {
      const now = performance.now() - t0
      const up = relays.filter((r) => r !== undefined)
      const known = up.length === o.relays ? up.map((r) => r.peerId) : undefined // every id is known once all are ready
      let all = known !== undefined
      let allLinked = all
      for (let i = 0; i < o.relays; i++) {
        const p = pollers[i]?.peers
        const others = known?.filter((id) => id !== relays[i]?.peerId)
        const complete = p !== undefined && others !== undefined && others.every((id) => p.some((x) => x.nodeId === id))
        if (complete && Number.isNaN(perRelay[i]!)) perRelay[i] = now
        if (!complete) all = false
        if (!complete || !others!.every((id) => p!.some((x) => x.nodeId === id && x.connected))) allLinked = false
      }
      if (all && Number.isNaN(convergeMs)) convergeMs = now
      if (allLinked && Number.isNaN(linkedMs)) {
        linkedMs = now
        resolveConverged()
      }
    }
    const startPoller = async (i: number, r: RelayProc): Promise<void> => {
      pollers[i] = new Poller(i, await connect({ port: r.port }), o.pollMs, () => check())
    }
    await startPoller(0, relays[0])
    const readyAt: number[] = []
    await Promise.all(started.map(async (p, i) => {
      const { r, at } = await p
      readyAt.push(at)
      await startPoller(i + 1, r)
    }))
    const lastReadyMs = Math.max(...readyAt)
    const timeout = sleep(o.convergeTimeoutMs).then(() => { throw new Error(`run ${run}: not converged after ${o.convergeTimeoutMs} ms (views: ${pollers.map((p) => p?.peers?.length ?? '?').join(' ')})`) })
    await Promise.race([converged, timeout])
    o.progress(`run ${run}: converged ${convergeMs.toFixed(0)} ms, linked ${linkedMs.toFixed(0)} ms after spawning relays 2-${o.relays} (last ready line at ${lastReadyMs.toFixed(0)} ms; load ${load1.toFixed(1)})`)

    // ---- failure detection ----
    await sleep(1000) // settle: heartbeats, anti-entropy
    const v = o.victim - 1
    const victim = relays[v]!.peerId
    await pollers[v]!.stop()
    pollers[v] = undefined
    const dropAt: number[] = new Array<number>(o.relays).fill(Number.NaN)
    let dropMs = Number.NaN
    let reappeared = 0
    let watching = false
    let resolveDropped!: () => void
    const dropped = new Promise<void>((r) => { resolveDropped = r })
    // Link/dial failures logged up to now, before the kill (the victim's death is not churn).
    const linkFailures = relays.reduce((n, r) => n + r.stderr().split('\n').filter((l) => /(link to|dial) \S+ failed/.test(l)).length, 0)
    const tk = performance.now()
    relays[v]!.kill('SIGKILL')
    check = (): void => {
      const now = performance.now() - tk
      let all = true
      for (let i = 0; i < o.relays; i++) {
        if (i === v) continue
        const listed = pollers[i]?.peers?.some((x) => x.nodeId === victim) ?? true
        if (!listed && Number.isNaN(dropAt[i]!)) dropAt[i] = now
        if (listed) {
          all = false
          if (watching) reappeared++
        }
      }
      if (all && Number.isNaN(dropMs)) {
        dropMs = now
        resolveDropped()
      }
    }
    const dropTimeout = sleep(o.dropTimeoutMs).then(() => { throw new Error(`run ${run}: relay ${o.victim} still listed ${o.dropTimeoutMs} ms after SIGKILL`) })
    await Promise.race([dropped, dropTimeout])
    watching = true
    await sleep(o.watchMs)
    watching = false
    const perRelayDropMs = dropAt.filter((_, i) => i !== v)
    o.progress(`run ${run}: relay ${o.victim} dropped from every view ${dropMs.toFixed(0)} ms after SIGKILL (per relay ${Math.min(...perRelayDropMs).toFixed(0)}-${Math.max(...perRelayDropMs).toFixed(0)} ms)${reappeared > 0 ? `; listed again ${reappeared} time(s) afterwards` : ''}`)
    return {
      convergeMs, linkedMs, lastReadyMs, afterReadyMs: convergeMs - lastReadyMs, perRelayConvergeMs: perRelay,
      dropMs, perRelayDropMs, reappeared, load1, linkFailures,
    }
  } finally {
    check = () => {}
    await Promise.all(pollers.map((p) => p?.stop()))
    await killAll()
  }
}

export async function runConvergence(o: ConvergenceOptions): Promise<ConvergenceResult> {
  const runs: ConvergenceRun[] = []
  const failures: string[] = []
  for (let i = 1; i <= o.runs; i++) {
    try {
      runs.push(await oneRun(o, i))
    } catch (err) {
      failures.push((err as Error).message)
      o.progress(`run ${i} failed: ${(err as Error).message}`)
    }
    await sleep(500)
  }
  for (const r of runs) if (r.reappeared > 0) failures.push(`a killed relay came back into a view ${r.reappeared} time(s) after it had been dropped`)
  const m = (k: keyof ConvergenceResult['median']): number => median(runs.map((r) => r[k]))
  const { progress: _progress, ...options } = o
  return {
    options,
    topology: `star: relay 1 starts first; relays 2..${o.relays} start together, each with --bootstrap <relay 1>`,
    runs,
    median: { convergeMs: m('convergeMs'), linkedMs: m('linkedMs'), lastReadyMs: m('lastReadyMs'), afterReadyMs: m('afterReadyMs'), dropMs: m('dropMs') },
    failures,
  }
}

// ---- reporting ----------------------------------------------------------------------------

function environment(): Record<string, string | number> {
  let commit = 'unknown'
  try {
    commit = execSync('git rev-parse --short HEAD', { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch { /* not a git checkout */ }
  return { node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), commit }
}

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(0))

export function markdown(r: ConvergenceResult, env: Record<string, string | number>, date: Date): string {
  const rows = r.runs.map((x, i) => `| ${i + 1} | ${ms(x.convergeMs)} | ${ms(x.linkedMs)} | ${ms(x.lastReadyMs)} | ${ms(x.afterReadyMs)} | ${ms(x.dropMs)} | ${ms(Math.min(...x.perRelayDropMs))}–${ms(Math.max(...x.perRelayDropMs))} | ${x.reappeared} | ${x.linkFailures} | ${x.load1.toFixed(1)} |`)
  return [
    `# Overlay convergence — ${date.toISOString()}`,
    '',
    `${r.options.relays} relays on loopback (\`herald relay --dev\`), ${r.topology}. Views polled every ${r.options.pollMs} ms per relay`,
    `(\`$herald.status\` over a kept-open SDK connection). Times in ms; "spawn" is the moment relays 2..${r.options.relays} are started.`,
    '',
    '| run | spawn → all views complete | spawn → all linked | spawn → last ready line | last ready → complete | SIGKILL relay ' + String(r.options.victim) + ' → dropped everywhere | per-relay drop | listed again | failed link opens/dials logged | load (1 min) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    `| **median** | **${ms(r.median.convergeMs)}** | **${ms(r.median.linkedMs)}** | ${ms(r.median.lastReadyMs)} | ${ms(r.median.afterReadyMs)} | **${ms(r.median.dropMs)}** | | | | |`,
    '',
    r.failures.length > 0 ? `**Failures:** ${r.failures.join('; ')}` : 'No failures.',
    '',
    `Environment: node ${env['node']}, ${env['cores']} × ${env['cpu']}, ${env['memoryGiB']} GiB, commit ${env['commit']}.`,
    'The machine load is part of the result: relays start as separate Node processes and each start-up costs CPU.',
    '',
  ].join('\n')
}

export function save(r: ConvergenceResult, env: Record<string, string | number>, date: Date): string[] {
  const dir = join(ROOT, 'bench/results')
  mkdirSync(dir, { recursive: true })
  const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-')
  const json = join(dir, `convergence-${stamp}.json`)
  const md = join(dir, `convergence-${stamp}.md`)
  writeFileSync(json, JSON.stringify({ workload: 'convergence', date: date.toISOString(), environment: env, ...r }, null, 2) + '\n')
  writeFileSync(md, markdown(r, env, date))
  return [json, md]
}

const USAGE = `usage: npx tsx bench/convergence.ts [--relays N] [--runs N] [--poll MS] [--victim K] [--smoke] [--no-save]

  --relays N   relays to start (default 10; smoke 4)
  --runs N     runs; the tables show medians (default 3; smoke 1)
  --poll MS    status poll period per relay (default 25)
  --victim K   the relay to SIGKILL, 1-based (default 6; relay 1 is the bootstrap)
  --smoke      a small, quick run; exit 1 if it fails. Not saved.
  --no-save    do not write bench/results/`

export async function main(argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        relays: { type: 'string' }, runs: { type: 'string' }, poll: { type: 'string' }, victim: { type: 'string' },
        smoke: { type: 'boolean' }, 'no-save': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }).values
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(USAGE + '\n')
    return 0
  }
  const smoke = values.smoke === true
  const int = (v: string | undefined, name: string, dflt: number, min: number): number => {
    if (v === undefined) return dflt
    const n = Number(v)
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`)
    return n
  }
  let o: ConvergenceOptions
  try {
    const relays = int(values.relays, 'relays', smoke ? 4 : 10, 2)
    o = {
      relays,
      runs: int(values.runs, 'runs', smoke ? 1 : 3, 1),
      pollMs: int(values.poll, 'poll', 25, 1),
      victim: int(values.victim, 'victim', Math.min(6, relays), 1),
      convergeTimeoutMs: 60_000,
      dropTimeoutMs: 30_000,
      watchMs: smoke ? 1000 : 3000,
      progress: (line) => process.stderr.write(`convergence: ${line}\n`),
    }
    if (o.victim > relays) throw new Error('--victim must be at most --relays')
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`)
    return 2
  }
  const date = new Date()
  const env = environment()
  const r = await runConvergence(o)
  process.stdout.write(markdown(r, env, date))
  if (!smoke && values['no-save'] !== true && r.runs.length > 0) {
    for (const f of save(r, env, date)) process.stderr.write(`convergence: wrote ${f}\n`)
  }
  return r.failures.length > 0 ? 1 : 0
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    async (err: unknown) => {
      process.stderr.write(`convergence: ${(err as Error).stack ?? String(err)}\n`)
      await killAll()
      process.exit(1)
    },
  )
}
