/**
 * The servers a workload runs against: Herald relays (through test/harness.ts) or nats-server
 * processes, one or two of them. With two, the second joins the first (Herald: --bootstrap;
 * NATS: a route), and waitTopic()/waitCluster() wait until the first one would route to the
 * second one's subscribers or members.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { connect } from '@herald/client'
import { startRelay, until, type RelayProc } from '../test/harness.js'
import { deadline, freePort } from './driver.js'
import { RssSampler, cpuSecondsOf } from './proc-stats.js'
import type { System } from './workers/client.js'

export type { System }

export interface Server {
  label: string
  port: number
  pid: number
  rss: RssSampler
  rssNow(): number
}

export interface ServerGroup {
  system: System
  servers: Server[]
  /** Waits until servers[0] knows that servers[last] has subscribers of `topic`. */
  waitTopic(topic: string, timeoutMs?: number): Promise<void>
  /** Waits until servers[0] knows that servers[last] has members of `cluster` (NATS: a queue group on that subject). */
  waitCluster(cluster: string, timeoutMs?: number): Promise<void>
  /** Each server's CPU seconds so far (from /proc). */
  cpu(): number[]
  /** What each server says it dropped (for a failure message); never throws. */
  diagnostics(): Promise<string>
  /** Stops every server (gracefully, then by force) and their RSS samplers. */
  stop(): Promise<void>
}

export interface ServerOptions {
  /** Node flags for Herald relays (e.g. --cpu-prof). */
  relayNodeArgs: string[]
  /** More `herald relay` arguments (e.g. --metrics HOST:PORT). */
  relayArgs?: string[]
}

/** Where nats-server is: on PATH, or the Debian package's /usr/sbin/nats-server; else undefined. */
export function natsServerPath(): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin']
  for (const d of dirs) {
    if (d === '') continue
    const p = join(d, 'nats-server')
    try {
      accessSync(p, constants.X_OK)
      return p
    } catch { /* not here */ }
  }
  return undefined
}

export function startServers(system: System, count: 1 | 2, opts: ServerOptions): Promise<ServerGroup> {
  return system === 'herald' ? startHerald(count, opts) : startNats(count)
}

const LABELS = ['relay A', 'relay B']
/** A network name of our own, so bench relays never join anyone else's. */
const NETWORK = `bench-${process.pid}`

function cpuOf(pids: number[]): number[] {
  return pids.map((pid) => { try { return cpuSecondsOf(pid) } catch { return 0 } })
}

async function startHerald(count: 1 | 2, opts: ServerOptions): Promise<ServerGroup> {
  const relays: RelayProc[] = []
  const samplers: RssSampler[] = []
  try {
    for (let i = 0; i < count; i++) {
      const join = i === 0 ? [] : ['--bootstrap', relays[0]!.addrs[0]!]
      const r = await startRelay(['--network', NETWORK, ...join, ...(opts.relayArgs ?? [])], { nodeArgs: opts.relayNodeArgs })
      relays.push(r)
      samplers.push(new RssSampler(r.pid))
    }
  } catch (err) {
    await stopHerald(relays, samplers)
    throw err
  }
  const status = async (port: number, pred: (s: HeraldStatus) => boolean, what: string, timeoutMs: number): Promise<void> => {
    const conn = await connect({ port })
    try {
      await until(async () => {
        const s = JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString('utf8')) as HeraldStatus
        return pred(s)
      }, timeoutMs, what)
    } finally {
      await conn.close()
    }
  }
  const a = relays[0]!
  const b = relays[relays.length - 1]!
  return {
    system: 'herald',
    servers: relays.map((r, i) => ({ label: count === 1 ? 'relay' : LABELS[i]!, port: r.port, pid: r.pid, rss: samplers[i]!, rssNow: () => samplers[i]!.last })),
    async waitTopic(topic, timeoutMs = 30_000) {
      if (a === b) return
      await status(a.port, (s) => s.peers.some((p) => p.nodeId === b.peerId && p.topics.includes(topic)), `relay A to see topic ${topic} on relay B`, timeoutMs)
    },
    async waitCluster(cluster, timeoutMs = 30_000) {
      if (a === b) return
      await status(a.port, (s) => s.peers.some((p) => p.nodeId === b.peerId && (p.clusters[cluster]?.members ?? 0) > 0), `relay A to see cluster ${cluster} on relay B`, timeoutMs)
    },
    cpu: () => cpuOf(relays.map((r) => r.pid)),
    async diagnostics() {
      const parts = await Promise.all(relays.map(async (r, i) => {
        const tag = count === 1 ? 'relay' : LABELS[i]!
        try {
          const conn = await connect({ port: r.port })
          try {
            const s = JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString('utf8')) as HeraldStatus
            const links = (s.links ?? []).map((l) => `link to ${l.nodeId.slice(-6)}: out ${(l.bytesOut / 2 ** 20).toFixed(1)} MiB, in ${(l.bytesIn / 2 ** 20).toFixed(1)} MiB, dropped ${l.dropped}`)
            const peers = s.peers.map((p) => `peer ${p.nodeId.slice(-6)} ${p.connected === true ? 'connected' : 'NOT connected'}`)
            const topics = (s.topics ?? []).map((t) => `topic ${t.name}: dropped ${t.dropped}`)
            return `${tag}: counters.dropped ${s.counters?.['dropped'] ?? '?'}, published ${s.counters?.['published'] ?? '?'}, delivered ${s.counters?.['delivered'] ?? '?'}` +
              [...links, ...peers, ...topics].map((x) => `; ${x}`).join('')
          } finally {
            await conn.close()
          }
        } catch (err) {
          return `${tag}: status failed (${(err as Error).message})`
        }
      }))
      return parts.join(' | ')
    },
    stop: () => stopHerald(relays, samplers),
  }
}

interface HeraldStatus {
  peers: Array<{ nodeId: string; connected?: boolean; topics: string[]; clusters: Record<string, { members: number }> }>
  links?: Array<{ nodeId: string; bytesIn: number; bytesOut: number; dropped: number }>
  topics?: Array<{ name: string; subscribers: number; dropped: number }>
  counters?: Record<string, number>
}

async function stopHerald(relays: RelayProc[], samplers: RssSampler[]): Promise<void> {
  for (const s of samplers) s.stop()
  await Promise.all(relays.map(async (r) => {
    // SIGTERM first: the relay stops gracefully, which also lets --cpu-prof write its profile.
    r.kill('SIGTERM')
    const timer = setTimeout(() => r.kill('SIGKILL'), 5_000)
    await r.exited
    clearTimeout(timer)
  }))
}

// ---- NATS ------------------------------------------------------------------------------

/** nats-server processes we started, so a failed run can still kill them (killNatsServers). */
const natsLive = new Set<ChildProcess>()

export async function killNatsServers(): Promise<void> {
  await Promise.all([...natsLive].map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) { resolve(); return }
    c.once('exit', () => resolve())
    c.kill('SIGKILL')
  })))
}

interface RouteSub { subject: string; qgroup?: string }

/**
 * Interest crosses a NATS route as a subscription on it (RS+): waits until server A's
 * /routez?subs=detail lists one that matches, i.e. A would forward to B's subscribers.
 */
async function routeInterest(httpPort: number, match: (s: RouteSub) => boolean, what: string, timeoutMs: number): Promise<void> {
  await until(async () => {
    const res = await fetch(`http://127.0.0.1:${httpPort}/routez?subs=detail`)
    const body = await res.json() as { routes?: Array<{ subscriptions_list_detail?: RouteSub[] }> }
    return (body.routes ?? []).some((r) => (r.subscriptions_list_detail ?? []).some(match))
  }, timeoutMs, `nats-server A to see ${what} over the route`)
}

export interface NatsProc { child: ChildProcess; pid: number; port: number; httpPort: number; exited: Promise<void>; stderr(): string }

/**
 * Starts one nats-server on a port we picked by binding port 0 first (nats-server cannot report
 * a port it picked itself in a machine-readable way). `max_pending` is raised to 256 MiB to
 * match the Herald subscriber's memory limit: a subscriber that falls behind is then buffered
 * for, not disconnected as a slow consumer at the default 64 MiB.
 */
export async function startNatsServer(dir: string, name: string, route?: number): Promise<NatsProc & { clusterPort: number }> {
  const bin = natsServerPath()
  if (bin === undefined) throw new Error('nats-server not found (apt-get install nats-server)')
  const [port, httpPort, clusterPort] = [await freePort(), await freePort(), await freePort()]
  const conf = join(dir, `${name}.conf`)
  writeFileSync(conf, [
    `server_name: ${name}`,
    'max_pending: 268435456',
    'write_deadline: "10s"',
    `http: "127.0.0.1:${httpPort}"`,
    'cluster {',
    '  name: bench',
    `  listen: "127.0.0.1:${clusterPort}"`,
    ...(route !== undefined ? [`  routes: ["nats-route://127.0.0.1:${route}"]`] : []),
    '}',
    '',
  ].join('\n'))
  const child = spawn(bin, ['-p', String(port), '-a', '127.0.0.1', '-c', conf], { stdio: ['ignore', 'pipe', 'pipe'] })
  natsLive.add(child)
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { err += c })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  const exited = new Promise<void>((resolve) => child.on('exit', () => { natsLive.delete(child); resolve() }))
  await deadline(new Promise<void>((resolve, reject) => {
    const check = setInterval(() => {
      if (err.includes('Server is ready')) { clearInterval(check); resolve() }
      if (child.exitCode !== null) { clearInterval(check); reject(new Error(`nats-server exited: ${err}`)) }
    }, 10)
  }), 15_000, `nats-server ${name} to start\n${err}`)
  return { child, pid: child.pid ?? -1, port, httpPort, clusterPort, exited, stderr: () => err }
}

async function startNats(count: 1 | 2): Promise<ServerGroup> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-bench-nats-'))
  const procs: Array<NatsProc & { clusterPort: number }> = []
  const samplers: RssSampler[] = []
  const stop = async (): Promise<void> => {
    for (const s of samplers) s.stop()
    await Promise.all(procs.map(async (p) => {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM')
      const timer = setTimeout(() => p.child.kill('SIGKILL'), 5_000)
      await p.exited
      clearTimeout(timer)
    }))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < count; i++) {
      const p = await startNatsServer(dir, `n${i}`, i === 0 ? undefined : procs[0]!.clusterPort)
      procs.push(p)
      samplers.push(new RssSampler(p.pid))
    }
  } catch (err) {
    await stop()
    throw err
  }
  const a = procs[0]!
  return {
    system: 'nats',
    servers: procs.map((p, i) => ({ label: count === 1 ? 'nats-server' : `nats-server ${'AB'[i]!}`, port: p.port, pid: p.pid, rss: samplers[i]!, rssNow: () => samplers[i]!.last })),
    waitTopic(topic, timeoutMs = 30_000) {
      return count === 1 ? Promise.resolve() : routeInterest(a.httpPort, (s) => s.subject === topic && s.qgroup === undefined, `interest in ${topic}`, timeoutMs)
    },
    waitCluster(cluster, timeoutMs = 30_000) {
      return count === 1 ? Promise.resolve() : routeInterest(a.httpPort, (s) => s.subject === cluster && s.qgroup !== undefined, `queue-group members of ${cluster}`, timeoutMs)
    },
    cpu: () => cpuOf(procs.map((p) => p.pid)),
    async diagnostics() {
      const parts = await Promise.all(procs.map(async (p, i) => {
        try {
          const v = await (await fetch(`http://127.0.0.1:${p.httpPort}/varz`)).json() as Record<string, unknown>
          return `nats-server ${'AB'[i]!}: slow_consumers ${String(v['slow_consumers'])}, in_msgs ${String(v['in_msgs'])}, out_msgs ${String(v['out_msgs'])}`
        } catch (err) {
          return `nats-server ${'AB'[i]!}: /varz failed (${(err as Error).message})`
        }
      }))
      return parts.join(' | ')
    },
    stop,
  }
}
