/**
 * Separate hosts on one machine: Linux network namespaces joined by veth pairs to a bridge
 * that lives in its own namespace, so nothing is added to the root namespace and no packet
 * (mDNS multicast included) leaves the test's little LAN. Needs root and iproute2.
 *
 *   hosts[i]  (namespace hrl<i>-<suffix>)  eth0 = <subnet>.<i+1>/24 --veth-- p<i> in the bridge namespace
 *   bridge    (namespace hrlb-<suffix>)    br0, multicast snooping off
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'

export interface Lan {
  suffix: string
  bridge: string
  hosts: Array<{ ns: string; ip: string }>
  /** Deletes every namespace created (and so every interface in them). Never throws. */
  destroy(): void
}

function ip(args: string[]): string {
  return execFileSync('ip', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 })
}

/** Why namespaces cannot be used here, or undefined when they can. */
export function netnsUnavailable(): string | undefined {
  const uid = process.getuid?.()
  if (uid !== 0) return `not root (uid ${String(uid)}): network namespaces need root`
  try {
    ip(['netns', 'list'])
  } catch (err) {
    return `"ip netns" is unavailable (${(err as Error).message.split('\n')[0]}); install iproute2`
  }
  return undefined
}

/** Processes in a namespace (by `ip netns pids`). */
function pidsIn(ns: string): number[] {
  try {
    return ip(['netns', 'pids', ns]).split(/\s+/).filter((s) => s !== '').map(Number)
  } catch {
    return []
  }
}

/** Creates `n` hosts on one bridged /24 in private 10.231.0.0/16 space. */
export function createLan(n: number): Lan {
  const suffix = randomBytes(3).toString('hex')
  const subnet = `10.231.${randomBytes(1)[0]!}`
  const bridge = `hrlb-${suffix}`
  const hosts = Array.from({ length: n }, (_, i) => ({ ns: `hrl${i + 1}-${suffix}`, ip: `${subnet}.${i + 1}` }))
  const created: string[] = []
  const onExit = (): void => lan.destroy()
  const lan: Lan = {
    suffix,
    bridge,
    hosts,
    destroy() {
      for (const ns of created) for (const pid of pidsIn(ns)) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
      for (const ns of [...created].reverse()) {
        try { ip(['netns', 'del', ns]) } catch { /* already gone */ }
      }
      created.length = 0
      process.off('exit', onExit)
    },
  }
  // A safety net if the test process exits without its teardown (execFileSync works in 'exit').
  process.once('exit', onExit)
  try {
    ip(['netns', 'add', bridge])
    created.push(bridge)
    ip(['-n', bridge, 'link', 'set', 'lo', 'up'])
    ip(['-n', bridge, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
    ip(['-n', bridge, 'link', 'set', 'br0', 'up'])
    hosts.forEach((h, i) => {
      ip(['netns', 'add', h.ns])
      created.push(h.ns)
      // Both ends are created directly in their namespaces: the root namespace never sees them.
      ip(['link', 'add', 'eth0', 'netns', h.ns, 'type', 'veth', 'peer', 'name', `p${i + 1}`, 'netns', bridge])
      ip(['-n', bridge, 'link', 'set', `p${i + 1}`, 'master', 'br0', 'up'])
      ip(['-n', h.ns, 'link', 'set', 'lo', 'up'])
      ip(['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'])
      ip(['-n', h.ns, 'link', 'set', 'eth0', 'up'])
      // mDNS sends to 224.0.0.251 through the routing table (multicast-dns uses 0.0.0.0 as
      // the multicast interface once a non-loopback interface exists): a host without a
      // default route needs a multicast route, as on a real LAN without a gateway.
      ip(['-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
    })
  } catch (err) {
    lan.destroy()
    throw err
  }
  return lan
}

export interface NsProc {
  child: ChildProcess
  pid: number
  stdout(): string
  stderr(): string
  /** Every complete stdout line parsed as JSON (others skipped). */
  lines(): unknown[]
  /** Resolves with the first JSON line (now or later) that `pred` accepts. */
  waitLine<T = Record<string, unknown>>(pred: (x: T) => boolean, timeoutMs?: number, what?: string): Promise<T>
  exited: Promise<number | string>
  kill(): void
}

const live = new Set<ChildProcess>()

/** `ip netns exec NS <node> args...` (ip execs node, so the pid is node's). */
export function spawnIn(ns: string, args: string[], cwd: string): NsProc {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...args], { cwd, stdio: ['pipe', 'pipe', 'pipe'] })
  live.add(child)
  let out = ''
  let err = ''
  const parsed: unknown[] = []
  let partial = ''
  const watchers = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c
    partial += c
    let i: number
    while ((i = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, i)
      partial = partial.slice(i + 1)
      try { parsed.push(JSON.parse(line)) } catch { /* not JSON */ }
    }
    for (const w of watchers) w()
  })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  child.stdin!.on('error', () => {})
  let done = false
  const exited = new Promise<number | string>((resolve) => child.on('exit', (code, sig) => {
    done = true
    live.delete(child)
    resolve(code ?? sig ?? -1)
    for (const w of watchers) w()
  }))
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    lines: () => parsed,
    exited,
    kill: () => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') },
    waitLine<T>(pred: (x: T) => boolean, timeoutMs = 15_000, what = 'a matching line'): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        let seen = 0
        const check = (): void => {
          for (; seen < parsed.length; seen++) {
            const x = parsed[seen] as T
            if (pred(x)) { finish(); resolve(x); return }
          }
          if (done) { finish(); reject(new Error(`process in ${ns} exited before ${what}\nstdout: ${out}\nstderr: ${err}`)) }
        }
        const timer = setTimeout(() => { finish(); reject(new Error(`timed out waiting for ${what} in ${ns}\nstdout: ${out.slice(-4000)}\nstderr: ${err.slice(-4000)}`)) }, timeoutMs)
        const finish = (): void => { clearTimeout(timer); watchers.delete(check) }
        watchers.add(check)
        check()
      })
    },
  }
}

/** Kills every process spawnIn started and waits for them. */
export async function killAllIn(): Promise<void> {
  await Promise.all([...live].map((c) => new Promise<void>((r) => {
    if (c.exitCode !== null || c.signalCode !== null) return r()
    c.once('exit', () => r())
    c.kill('SIGKILL')
  })))
}
