/**
 * What the kernel is told, computed from the LAN's shaping state with no I/O (tested in
 * memory). All of it lives in the bridge namespace — the "switch" — except egress bandwidth,
 * which is a qdisc on each host's own eth0:
 *
 *   partition a->b   bridge forward:    iifname p<a> oifname p<b> drop   (every frame but ARP: IP,
 *                                       multicast; with ARP cut too, a one-way partition would also
 *                                       block the other way, whose ARP replies could not come back)
 *   duplicate a->b   netdev ingress p<a>: ip daddr <b> numgen random ... dup to p<b>
 *   loss a->b        netdev egress p<b>:  ip saddr <a> numgen random ... drop
 *                    (the original and its duplicate each take their chance, as on a wire)
 *   bandwidth host   tbf on the host's eth0 (what it sends) and on p<host> (what it receives)
 *   bandwidth a->b   htb on a's eth0: a class per limited destination, u32 filter on ip dst
 *
 * A duplicate leaves p<b> directly, bypassing the bridge, so no dup rule is made for a
 * partitioned path (it would leak through the partition).
 */
export interface PathShape {
  loss: number
  duplicate: number
  /** Bytes per second, Infinity for none (a per-destination limit on the sender's egress). */
  bandwidth: number
  partitioned: boolean
}

export interface HostLink {
  ip: string
  /** The host's veth end in the bridge namespace. */
  port: string
  /** Bytes per second the host may send and receive (Infinity: no limit). */
  egress: number
  ingress: number
}

export interface LanShape {
  hosts: HostLink[]
  /** paths[from][to] (from !== to). */
  paths: PathShape[][]
}

export const OPEN_PATH: Readonly<PathShape> = Object.freeze({ loss: 0, duplicate: 0, bandwidth: Infinity, partitioned: false })

/** Probabilities are drawn as numgen random mod 1e6 < p * 1e6 (resolution: one in a million). */
const SCALE = 1_000_000
const threshold = (p: number): number => Math.round(p * SCALE)

/** The rule's comment, by which counters are read back: "loss 1>2". */
export const ruleTag = (kind: 'loss' | 'dup' | 'partition', from: number, to: number): string => `${kind} ${from + 1}>${to + 1}`

/** An `nft -f` script that replaces the bridge namespace's whole ruleset in one transaction. */
export function nftRuleset(shape: LanShape): string {
  const forward: string[] = []
  const ingress: string[][] = shape.hosts.map(() => [])
  const egress: string[][] = shape.hosts.map(() => [])
  shape.paths.forEach((row, a) => row.forEach((p, b) => {
    if (a === b) return
    const from = shape.hosts[a]!
    const to = shape.hosts[b]!
    if (p.partitioned) {
      forward.push(`iifname "${from.port}" oifname "${to.port}" ether type != arp counter drop comment "${ruleTag('partition', a, b)}"`)
      return
    }
    if (p.duplicate > 0) {
      ingress[a]!.push(`ip daddr ${to.ip} numgen random mod ${SCALE} < ${threshold(p.duplicate)} counter dup to "${to.port}" comment "${ruleTag('dup', a, b)}"`)
    }
    if (p.loss > 0) {
      egress[b]!.push(`ip saddr ${from.ip} numgen random mod ${SCALE} < ${threshold(p.loss)} counter drop comment "${ruleTag('loss', a, b)}"`)
    }
  }))
  const chain = (name: string, hook: string, rules: string[]): string =>
    `  chain ${name} {\n    type filter hook ${hook} priority 0; policy accept;\n${rules.map((r) => `    ${r}\n`).join('')}  }\n`
  let out = 'flush ruleset\n'
  out += `table bridge herald {\n${chain('forward', 'forward', forward)}}\n`
  const netdev: string[] = []
  shape.hosts.forEach((h, i) => {
    if (ingress[i]!.length > 0) netdev.push(chain(`in_${h.port}`, `ingress device "${h.port}"`, ingress[i]!))
    if (egress[i]!.length > 0) netdev.push(chain(`out_${h.port}`, `egress device "${h.port}"`, egress[i]!))
  })
  if (netdev.length > 0) out += `table netdev herald {\n${netdev.join('')}}\n`
  return out
}

/** A tc invocation: in which namespace ('bridge' or a host index), and its arguments. */
export interface TcCommand {
  where: 'bridge' | number
  args: string[]
}

const bits = (bytesPerSecond: number): string => `${Math.max(8, Math.round(bytesPerSecond * 8))}bit`
/** At least two full frames, and at least 10 ms of the rate (tbf needs rate/HZ). */
const burst = (bytesPerSecond: number): string => String(Math.max(2 * 1514, Math.ceil(bytesPerSecond / 100)))
/** Rate for the classes of traffic that has no limit of its own. */
const UNLIMITED = 1.25e9

export interface TcOptions {
  /** How long a packet may wait in a tbf queue before it is dropped, ms. */
  queueMs: number
}

function tbf(dev: string, rate: number, o: TcOptions): string[] {
  return ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', bits(rate), 'burst', burst(rate), 'latency', `${o.queueMs}ms`]
}

/**
 * Every qdisc, class and filter for the shape, each preceded by the deletion of whatever
 * root qdisc was there (a deletion of nothing fails, and the caller ignores that failure).
 */
export function tcCommands(shape: LanShape, o: TcOptions): Array<TcCommand & { mayFail?: true }> {
  const out: Array<TcCommand & { mayFail?: true }> = []
  shape.hosts.forEach((h, i) => {
    out.push({ where: 'bridge', args: ['qdisc', 'del', 'dev', h.port, 'root'], mayFail: true })
    if (h.ingress !== Infinity) out.push({ where: 'bridge', args: tbf(h.port, h.ingress, o) })
    out.push({ where: i, args: ['qdisc', 'del', 'dev', 'eth0', 'root'], mayFail: true })
    const limited = (shape.paths[i] ?? []).map((p, j) => [p.bandwidth, j] as const).filter(([bw, j]) => j !== i && bw !== Infinity)
    if (limited.length === 0) {
      if (h.egress !== Infinity) out.push({ where: i, args: tbf('eth0', h.egress, o) })
      return
    }
    // A host limit caps the parent; each limited destination gets a class of its own, and
    // everything else the default class 1:2.
    const cap = h.egress === Infinity ? UNLIMITED : h.egress
    const cls = (parent: string, id: string, rate: number): TcCommand =>
      ({ where: i, args: ['class', 'add', 'dev', 'eth0', 'parent', parent, 'classid', id, 'htb', 'rate', bits(rate), 'ceil', bits(rate), 'burst', burst(rate), 'cburst', burst(rate)] })
    out.push({ where: i, args: ['qdisc', 'add', 'dev', 'eth0', 'root', 'handle', '1:', 'htb', 'default', '2'] })
    out.push(cls('1:', '1:1', cap), cls('1:1', '1:2', cap))
    for (const [bw, j] of limited) {
      const id = `1:${(j + 16).toString(16)}`
      out.push(cls('1:1', id, Math.min(bw, cap)))
      out.push({ where: i, args: ['filter', 'add', 'dev', 'eth0', 'parent', '1:', 'protocol', 'ip', 'prio', '1', 'u32', 'match', 'ip', 'dst', `${shape.hosts[j]!.ip}/32`, 'flowid', id] })
    }
  })
  return out
}
