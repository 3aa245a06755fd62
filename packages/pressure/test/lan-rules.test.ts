/**
 * Kernel mode without the kernel: which paths an order selects, the nft ruleset and tc
 * commands a shape becomes, and the message when something is missing.
 */
import { describe, expect, it } from 'vitest'
import { InvalidSettingError, lanUnavailable } from '../src/index.js'
import { OPEN_PATH, nftRuleset, tcCommands, type LanShape } from '../src/netns/rules.js'
import { pathsOf } from '../src/netns/selectors.js'

function lanShape(n: number): LanShape {
  return {
    hosts: Array.from({ length: n }, (_, i) => ({ ip: `10.77.0.${i + 1}`, port: `p${i + 1}`, egress: Infinity, ingress: Infinity })),
    paths: Array.from({ length: n }, () => Array.from({ length: n }, () => ({ ...OPEN_PATH }))),
  }
}

describe('selectors', () => {
  it('a host selects everything it sends and receives', () => {
    expect(pathsOf(1, 3)).toEqual({ pairs: [[1, 0], [1, 2], [0, 1], [2, 1]], host: 1 })
  })

  it('a pair selects both ways; from/to one way; between two groups both ways', () => {
    expect(pathsOf([0, 2], 3).pairs).toEqual([[0, 2], [2, 0]])
    expect(pathsOf({ from: 0, to: [1, 2] }, 3).pairs).toEqual([[0, 1], [0, 2]])
    expect(pathsOf({ between: [[0, 1], 2] }, 3).pairs).toEqual([[0, 2], [1, 2], [2, 0], [2, 1]])
    const host = { index: 2, name: 'h3', ns: 'x', ip: 'y', port: 'p3' }
    expect(pathsOf({ from: host, to: 0 }, 3).pairs).toEqual([[2, 0]])
  })

  it('refuses unknown hosts and a host paired with itself', () => {
    expect(() => pathsOf(3, 3)).toThrow(/^no host 3 on this LAN \(hosts are 0 to 2\)$/)
    expect(() => pathsOf([1, 1], 3)).toThrow(/two different hosts/)
    expect(() => pathsOf({ from: 0 } as never, 3)).toThrow(InvalidSettingError)
  })
})

describe('nft ruleset', () => {
  it('is a clean bridge table when nothing is shaped', () => {
    const r = nftRuleset(lanShape(2))
    expect(r).toBe('flush ruleset\ntable bridge herald {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n  }\n}\n')
  })

  it('drops by port for a partition, by source at the egress for loss, and duplicates at the ingress', () => {
    const s = lanShape(3)
    s.paths[0]![1]!.partitioned = true
    s.paths[1]![0]!.loss = 0.1
    s.paths[2]![0]!.duplicate = 0.05
    s.paths[2]![0]!.loss = 0.25
    const r = nftRuleset(s)
    expect(r).toContain('iifname "p1" oifname "p2" ether type != arp counter drop comment "partition 1>2"')
    expect(r).toContain('chain out_p1 {\n    type filter hook egress device "p1" priority 0; policy accept;\n' +
      '    ip saddr 10.77.0.2 numgen random mod 1000000 < 100000 counter drop comment "loss 2>1"\n' +
      '    ip saddr 10.77.0.3 numgen random mod 1000000 < 250000 counter drop comment "loss 3>1"\n')
    expect(r).toContain('chain in_p3 {\n    type filter hook ingress device "p3" priority 0; policy accept;\n' +
      '    ip daddr 10.77.0.1 numgen random mod 1000000 < 50000 counter dup to "p1" comment "dup 3>1"\n')
  })

  it('makes no duplicate (nor loss rule) on a partitioned path: a duplicate would bypass the bridge', () => {
    const s = lanShape(2)
    Object.assign(s.paths[0]![1]!, { partitioned: true, duplicate: 0.5, loss: 0.5 })
    const r = nftRuleset(s)
    expect(r).not.toContain('dup to')
    expect(r).not.toContain('numgen')
    expect(r).toContain('comment "partition 1>2"')
  })
})

describe('tc commands', () => {
  const opts = { queueMs: 100 }
  const made = (s: LanShape): string[] => tcCommands(s, opts).filter((c) => c.mayFail !== true).map((c) => `${String(c.where)}: ${c.args.join(' ')}`)

  it('clears every root qdisc and adds nothing for an open LAN', () => {
    const cmds = tcCommands(lanShape(2), opts)
    expect(cmds.every((c) => c.mayFail === true && c.args[1] === 'del')).toBe(true)
    expect(cmds).toHaveLength(4)
  })

  it('limits a host link with tbf on its eth0 and on its bridge port', () => {
    const s = lanShape(2)
    s.hosts[0]!.egress = s.hosts[0]!.ingress = 125_000
    expect(made(s)).toEqual([
      'bridge: qdisc replace dev p1 root tbf rate 1000000bit burst 3028 latency 100ms',
      '0: qdisc replace dev eth0 root tbf rate 1000000bit burst 3028 latency 100ms',
    ])
  })

  it('limits one path with an htb class and a u32 filter on the sender, under the host cap', () => {
    const s = lanShape(3)
    s.paths[0]![2]!.bandwidth = 250_000
    s.hosts[0]!.egress = 1_000_000
    expect(made(s)).toEqual([
      '0: qdisc add dev eth0 root handle 1: htb default 2',
      '0: class add dev eth0 parent 1: classid 1:1 htb rate 8000000bit ceil 8000000bit burst 10000 cburst 10000',
      '0: class add dev eth0 parent 1:1 classid 1:2 htb rate 8000000bit ceil 8000000bit burst 10000 cburst 10000',
      '0: class add dev eth0 parent 1:1 classid 1:12 htb rate 2000000bit ceil 2000000bit burst 3028 cburst 3028',
      '0: filter add dev eth0 parent 1: protocol ip prio 1 u32 match ip dst 10.77.0.3/32 flowid 1:12',
    ])
  })
})

describe('capabilities', () => {
  it('says everything that is missing in one line, with the install line for root', () => {
    const none = lanUnavailable({ uid: 0, works: (cmd) => cmd === 'ip' })
    expect(none).toBe('kernel mode is unavailable: "nft" is missing (install nftables); "tc" is missing (install iproute2); as root: apt-get install -y iproute2 nftables')
    expect(lanUnavailable({ uid: 1000, works: () => true })).toBe('kernel mode is unavailable: not root (uid 1000): network namespaces, nftables and tc need root')
    expect(lanUnavailable({ uid: 0, works: () => true })).toBeUndefined()
  })
})
