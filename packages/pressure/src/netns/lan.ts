/**
 * Kernel mode: hosts in Linux network namespaces, each with a veth to a bridge that lives in
 * a namespace of its own (nothing touches the root namespace), and real packet loss,
 * duplication, bandwidth limits and partitions between chosen hosts (see rules.ts).
 *
 * Namespaces are named hp<owner pid>-<random>-..., so a LAN whose owner died without its
 * teardown (SIGKILL, a crash) is found and removed by the next createLan() or by
 * sweepStaleLans(); a normal exit removes it in a process 'exit' handler.
 */
import { randomBytes } from 'node:crypto'
import { InvalidSettingError, LanUnavailableError } from '../errors.js'
import { spawnInNamespace, type LanProcess, type SpawnOptions } from './process.js'
import { OPEN_PATH, nftRuleset, tcCommands, type LanShape, type PathShape } from './rules.js'
import { pathsOf, type HostRef, type LanHost, type Selector } from './selectors.js'
import { lanUnavailable, run, runIn } from './system.js'

export interface LanInit {
  /** How many hosts (1 to 200). */
  hosts: number
  /** The first three octets of the hosts' /24 (default 10.77.0; each LAN is isolated, so LANs may share it). */
  subnet?: string
  /** How long a packet may queue behind a bandwidth limit before it is dropped (default 100 ms). */
  queueMs?: number
}

export interface Shaping {
  /** Probability that a packet is dropped, 0 to below 1. */
  loss?: number
  /** Probability that a packet is delivered twice, 0 to below 1. */
  duplicate?: number
  /** Bytes per second (Infinity: no limit). For one host, its link both ways; for pairs, per path. */
  bandwidth?: number
}

const PREFIX = 'hp'
const NAME = /^hp(\d+)-([0-9a-f]+)-/
const open = new Set<Lan>()
let exitHook = false

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function killNamespace(ns: string): void {
  let pids: number[] = []
  try { pids = run('ip', ['netns', 'pids', ns]).split(/\s+/).filter((s) => s !== '').map(Number) } catch { /* gone */ }
  for (const pid of pids) { try { process.kill(pid, 'SIGKILL') } catch { /* gone */ } }
  try { run('ip', ['netns', 'del', ns]) } catch { /* gone */ }
}

/** Removes the namespaces of LANs whose owning process is gone; returns their names. */
export function sweepStaleLans(): string[] {
  let names: string[] = []
  try { names = run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => NAME.test(n)) } catch { return [] }
  const stale = names.filter((n) => !pidAlive(Number(NAME.exec(n)![1])))
  for (const ns of stale) killNamespace(ns)
  return stale
}

function checkProbability(p: unknown, what: string): void {
  if (p !== undefined && (typeof p !== 'number' || !(p >= 0 && p < 1))) throw new InvalidSettingError(`${what} must be at least 0 and below 1, got ${String(p)}`)
}

export class Lan {
  readonly id: string
  readonly hosts: readonly LanHost[]
  readonly bridgeNs: string
  private readonly namespaces: string[] = []
  private readonly processes = new Set<LanProcess>()
  private readonly state: LanShape
  private readonly queueMs: number
  private appliedNft = ''
  private readonly appliedTc = new Map<string, string>()
  private readonly totals = new Map<string, number>()
  private destroyed = false

  constructor(init: LanInit) {
    if (!Number.isInteger(init.hosts) || init.hosts < 1 || init.hosts > 200) throw new InvalidSettingError(`a LAN has 1 to 200 hosts, got ${init.hosts}`)
    const subnet = init.subnet ?? '10.77.0'
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new InvalidSettingError(`subnet must be three octets like 10.77.0, got "${subnet}"`)
    this.queueMs = init.queueMs ?? 100
    this.id = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`
    this.bridgeNs = `${this.id}-b`
    this.hosts = Array.from({ length: init.hosts }, (_, i) => ({ index: i, name: `h${i + 1}`, ns: `${this.id}-h${i + 1}`, ip: `${subnet}.${i + 1}`, port: `p${i + 1}` }))
    this.state = {
      hosts: this.hosts.map((h) => ({ ip: h.ip, port: h.port, egress: Infinity, ingress: Infinity })),
      paths: this.hosts.map(() => this.hosts.map(() => ({ ...OPEN_PATH }))),
    }
  }

  /** Builds the namespaces, veths and bridge; on any failure removes what it made. */
  build(): this {
    open.add(this)
    try {
      this.addNamespace(this.bridgeNs)
      run('ip', ['-n', this.bridgeNs, 'link', 'set', 'lo', 'up'])
      run('ip', ['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0'])
      run('ip', ['-n', this.bridgeNs, 'link', 'set', 'br0', 'up'])
      for (const h of this.hosts) {
        this.addNamespace(h.ns)
        // Both ends are made in their namespaces: the root namespace never sees them.
        run('ip', ['link', 'add', 'eth0', 'netns', h.ns, 'type', 'veth', 'peer', 'name', h.port, 'netns', this.bridgeNs])
        // One segment per packet, as on a wire: without this, TCP hands veth 64 KiB super-packets
        // (GSO) and one "lost packet" would be forty segments.
        run('ip', ['-n', h.ns, 'link', 'set', 'dev', 'eth0', 'gso_max_segs', '1'])
        run('ip', ['-n', this.bridgeNs, 'link', 'set', 'dev', h.port, 'gso_max_segs', '1'])
        run('ip', ['-n', this.bridgeNs, 'link', 'set', h.port, 'master', 'br0', 'up'])
        run('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up'])
        run('ip', ['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0'])
        run('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up'])
        // Multicast (mDNS) goes by the routing table: a LAN host without a gateway needs this route.
        run('ip', ['-n', h.ns, 'route', 'add', '224.0.0.0/4', 'dev', 'eth0'])
      }
      this.apply()
    } catch (err) {
      this.destroy()
      throw err
    }
    return this
  }

  host(ref: HostRef): LanHost {
    const i = typeof ref === 'number' ? ref : ref.index
    const h = this.hosts[i]
    if (h === undefined) throw new InvalidSettingError(`no host ${String(i)} on this LAN (hosts are 0 to ${this.hosts.length - 1})`)
    return h
  }

  /** Starts `argv` inside a host; it is killed by destroy()/close(). */
  spawn(ref: HostRef, argv: string[], opts: SpawnOptions = {}): LanProcess {
    const p = spawnInNamespace(this.host(ref).ns, argv, opts)
    this.processes.add(p)
    void p.exited.then(() => this.processes.delete(p))
    return p
  }

  /** Runs a short command inside a host and returns its stdout. */
  exec(ref: HostRef, argv: string[]): string {
    const [command, ...args] = argv
    if (command === undefined) throw new TypeError('exec needs a command')
    return runIn(this.host(ref).ns, command, args)
  }

  /** Sets loss, duplication and bandwidth on the selected paths (fields not given are kept). */
  shape(sel: Selector, shaping: Shaping): void {
    checkProbability(shaping.loss, 'loss')
    checkProbability(shaping.duplicate, 'duplicate')
    const bw = shaping.bandwidth
    if (bw !== undefined && !(bw === Infinity || (Number.isFinite(bw) && bw > 0))) throw new InvalidSettingError(`bandwidth must be greater than 0 bytes/s (Infinity for none), got ${String(bw)}`)
    const { pairs, host } = pathsOf(sel, this.hosts.length)
    for (const [a, b] of pairs) {
      const p = this.path(a, b)
      if (shaping.loss !== undefined) p.loss = shaping.loss
      if (shaping.duplicate !== undefined) p.duplicate = shaping.duplicate
      if (bw !== undefined && host === undefined) p.bandwidth = bw
    }
    if (bw !== undefined && host !== undefined) {
      this.state.hosts[host]!.egress = bw
      this.state.hosts[host]!.ingress = bw
    }
    this.apply()
  }

  /** Drops every packet on the selected paths (a blackhole: no reset, no ICMP) until heal. */
  partition(sel: Selector): void {
    for (const [a, b] of pathsOf(sel, this.hosts.length).pairs) this.path(a, b).partitioned = true
    this.apply()
  }

  /** Ends the partitions on the selected paths, or all of them. */
  heal(sel?: Selector): void {
    const pairs = sel === undefined ? this.allPairs() : pathsOf(sel, this.hosts.length).pairs
    for (const [a, b] of pairs) this.path(a, b).partitioned = false
    this.apply()
  }

  /** Back to a clean LAN: no loss, duplication, limit or partition anywhere. */
  clear(): void {
    for (const [a, b] of this.allPairs()) Object.assign(this.path(a, b), OPEN_PATH)
    for (const h of this.state.hosts) h.egress = h.ingress = Infinity
    this.apply()
  }

  /** Packets the kernel dropped or duplicated so far, by rule: "loss 1>2", "dup 1>2", "partition 1>2". */
  counters(): Record<string, number> {
    const now = new Map(this.totals)
    for (const [tag, n] of this.readCounters()) now.set(tag, (now.get(tag) ?? 0) + n)
    return Object.fromEntries(now)
  }

  /** Kills every process in the LAN and deletes its namespaces. Idempotent; never throws. */
  destroy(): void {
    if (this.destroyed) return
    this.destroyed = true
    open.delete(this)
    for (const p of this.processes) p.kill('SIGKILL')
    for (const ns of [...this.namespaces].reverse()) killNamespace(ns)
    this.namespaces.length = 0
  }

  /** destroy(), after waiting for the processes it kills to exit. */
  async close(): Promise<void> {
    const exits = [...this.processes].map((p) => p.exited)
    for (const p of this.processes) p.kill('SIGKILL')
    await Promise.all(exits)
    this.destroy()
  }

  private addNamespace(ns: string): void {
    run('ip', ['netns', 'add', ns])
    this.namespaces.push(ns)
  }

  private path(a: number, b: number): PathShape {
    return this.state.paths[a]![b]!
  }

  private allPairs(): Array<[number, number]> {
    return this.hosts.flatMap((_, a) => this.hosts.map((__, b) => [a, b] as [number, number])).filter(([a, b]) => a !== b)
  }

  private readCounters(): Map<string, number> {
    const out = new Map<string, number>()
    if (this.appliedNft === '' || this.destroyed) return out
    const json = JSON.parse(runIn(this.bridgeNs, 'nft', ['-j', 'list', 'ruleset'])) as { nftables: Array<{ rule?: { comment?: string; expr?: Array<{ counter?: { packets: number } }> } }> }
    for (const item of json.nftables) {
      const comment = item.rule?.comment
      const counter = item.rule?.expr?.find((e) => e.counter !== undefined)?.counter
      if (comment !== undefined && counter !== undefined) out.set(comment, (out.get(comment) ?? 0) + counter.packets)
    }
    return out
  }

  /** Pushes the shape to the kernel: nft when its ruleset changed, tc where a device's setup changed. */
  private apply(): void {
    if (this.destroyed) throw new InvalidSettingError('this LAN was destroyed')
    const ruleset = nftRuleset(this.state)
    if (ruleset !== this.appliedNft) {
      // Replacing the ruleset resets its counters: bank them first.
      for (const [tag, n] of this.readCounters()) this.totals.set(tag, (this.totals.get(tag) ?? 0) + n)
      runIn(this.bridgeNs, 'nft', ['-f', '-'], ruleset)
      this.appliedNft = ruleset
    }
    const byDevice = new Map<string, ReturnType<typeof tcCommands>>()
    for (const c of tcCommands(this.state, { queueMs: this.queueMs })) {
      const key = c.where === 'bridge' ? `bridge ${c.args[3]}` : `host ${c.where}`
      byDevice.set(key, [...(byDevice.get(key) ?? []), c])
    }
    for (const [key, cmds] of byDevice) {
      const text = JSON.stringify(cmds)
      if (this.appliedTc.get(key) === text) continue
      for (const c of cmds) {
        const ns = c.where === 'bridge' ? this.bridgeNs : this.hosts[c.where]!.ns
        try {
          runIn(ns, 'tc', c.args)
        } catch (err) {
          if (c.mayFail !== true) throw err
        }
      }
      this.appliedTc.set(key, text)
    }
  }
}

/**
 * Makes a LAN of `hosts` hosts (a number, or LanInit). Throws LanUnavailableError saying
 * what is missing (root, ip, nft, tc) and how to install it.
 */
export function createLan(init: LanInit | number): Lan {
  const why = lanUnavailable()
  if (why !== undefined) throw new LanUnavailableError(why)
  if (!exitHook) {
    exitHook = true
    // A test process that exits without its teardown still removes its LANs (sync, so it runs in 'exit').
    process.once('exit', () => { for (const lan of [...open]) lan.destroy() })
  }
  sweepStaleLans()
  return new Lan(typeof init === 'number' ? { hosts: init } : init).build()
}
