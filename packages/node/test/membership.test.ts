// Membership and failure detection (packages/node/src/directory/membership*.ts), run by the
// simulator (packages/node/src/sim) on a virtual clock: the very code a relay runs, checked
// against SWIM's properties — completeness (a dead relay leaves every view, in bounded time),
// accuracy (a live relay behind a slow, lossy network does not), dissemination in O(log N)
// rounds, and a per-relay cost that does not grow with the network. Time here is virtual: the
// bounds are the protocol's, not this machine's speed.
import { describe, it, expect } from 'vitest'
import { Liveness } from '@herald/wire'
import { bootstrapNetwork, convergedNetwork } from '../src/sim/build.js'
import type { SimNetwork, SimNode } from '../src/sim/network.js'
import { PhiAccrual } from '../src/directory/membership-phi.js'

const LAN = { latencyMs: 0.3, jitterMs: 0.05 }
const LOSSY_WAN = { latencyMs: 250, jitterMs: 50, loss: 0.1 }

function deaths(net: SimNetwork): number {
  return net.nodes.reduce((s, n) => s + n.membership.stats.deathsDeclared, 0)
}

function liveViewsComplete(net: SimNetwork): boolean {
  return net.completeViews() === net.nodes.filter((n) => n.alive).length
}

/** Hops a change of `src`'s entry took to reach each relay (-1: not reached). */
function trackHops(net: SimNetwork, src: SimNode, matches: (clusters: ReadonlyMap<string, number>) => boolean): Int32Array {
  const hops = new Int32Array(net.nodes.length).fill(-1)
  hops[src.idx] = 0
  net.hopOf = (from, msg) => (msg.t === 'gossip' && hops[from]! >= 0 ? hops[from]! + 1 : undefined)
  net.observer = {
    data: (o, node, data) => {
      if (node === src.id && matches(data.clusters) && hops[o]! < 0) hops[o] = net.currentHop ?? 1
    },
  }
  return hops
}

describe('membership (simulated, virtual time)', () => {
  it('a SIGKILLed relay leaves every view within 3 s (60 relays, LAN)', () => {
    const net = convergedNetwork(60, { ...LAN, seed: 11 })
    net.runFor(5000)
    const victim = net.nodes[17]!
    net.kill(victim)
    const gone = net.runUntil(() => net.viewersOf(victim) === 0, 10_000, 10)
    expect(gone).toBeGreaterThanOrEqual(0)
    expect(gone).toBeLessThanOrEqual(3000)
    expect(liveViewsComplete(net)).toBe(true)
  })

  it('a frozen relay (SIGSTOP) leaves every view within 5 s; thawed, it refutes and is back in every view', () => {
    const net = convergedNetwork(60, { ...LAN, seed: 12 })
    net.runFor(5000)
    const frozen = net.nodes[23]!
    net.freeze(frozen)
    const gone = net.runUntil(() => net.viewersOf(frozen) === 0, 15_000, 10)
    expect(gone).toBeGreaterThanOrEqual(0)
    expect(gone).toBeLessThanOrEqual(5000)
    net.thaw(frozen)
    const back = net.runUntil(() => liveViewsComplete(net), 10_000, 10)
    expect(back).toBeGreaterThanOrEqual(0)
    expect(frozen.membership.stats.refutations).toBeGreaterThan(0)
  })

  it('no live relay is declared dead under 250 ± 50 ms one-way delay and 10% loss (30 relays, 3 minutes); suspicions stay local', () => {
    const net = convergedNetwork(30, { ...LOSSY_WAN, seed: 13 })
    net.messages = 0
    net.runFor(180_000)
    const raised = net.nodes.reduce((s, n) => s + n.membership.stats.suspicionsRaised, 0)
    // The network did challenge the detector (stalls of several seconds happen at 10% loss)...
    expect(raised).toBeGreaterThan(0)
    // ...and nobody was declared dead, every view stayed complete.
    expect(deaths(net)).toBe(0)
    expect(liveViewsComplete(net)).toBe(true)
    // A suspicion costs a few probes near the suspect, not a flood: the message rate stays
    // that of the regular probes (a ping every half second per relay, and its pong).
    const perRelayPerSecond = net.messages / 30 / 180
    const probes = net.nodes.reduce((s, n) => s + (n.membership.sentByType.get('ping') ?? 0) + (n.membership.sentByType.get('pong') ?? 0), 0) / 30 / 180
    expect(perRelayPerSecond).toBeLessThan(probes * 1.2)
  })

  it('a LAN that turns into a lossy WAN (250 ± 50 ms, 10% loss) kills nobody while the detectors relearn (300 relays, 2 minutes)', () => {
    // The detectors learnt millisecond round trips; now answers take 0.5–3 s. Suspicions are
    // expected; each must end in the suspect's own answer, directly or through a prober.
    const net = convergedNetwork(300, { ...LAN, seed: 17 }) // a seed where hasty probers once killed a relay
    net.runFor(20_000)
    net.latencyMs = LOSSY_WAN.latencyMs
    net.jitterMs = LOSSY_WAN.jitterMs
    net.loss = LOSSY_WAN.loss
    const raised0 = net.nodes.reduce((s, n) => s + n.membership.stats.suspicionsRaised, 0)
    net.runFor(120_000)
    expect(net.nodes.reduce((s, n) => s + n.membership.stats.suspicionsRaised, 0)).toBeGreaterThan(raised0)
    expect(deaths(net)).toBe(0)
    expect(liveViewsComplete(net)).toBe(true)
  })

  it('three relays under 250 ± 50 ms and 10% loss keep each other for 10 minutes', () => {
    const net = convergedNetwork(3, { ...LOSSY_WAN, seed: 14 })
    net.runFor(600_000)
    expect(deaths(net)).toBe(0)
    expect(liveViewsComplete(net)).toBe(true)
  })

  it('a cluster registered at one relay reaches all 600 relays in O(log N) hops', () => {
    const net = convergedNetwork(600, { ...LAN, seed: 15 })
    net.runFor(2000)
    const src = net.nodes[5]!
    const hops = trackHops(net, src, (c) => c.has('databases'))
    src.membership.setData({ addrs: ['/sim/5'], clusters: new Map([['databases', 1]]), topics: new Set() })
    const t = net.runUntil(() => !hops.includes(-1), 5000, 1)
    expect(t).toBeGreaterThanOrEqual(0)
    const max = Math.max(...hops)
    // A random graph of degree >= 5: about log(N)/log(4) hops; allow twice that.
    expect(max).toBeLessThanOrEqual(Math.ceil((2 * Math.log(600)) / Math.log(4)))
  })

  it('the idle cost per relay does not grow with the network (40 vs 400 relays)', () => {
    const rate = (n: number): number => {
      const net = convergedNetwork(n, { ...LAN, seed: 16 })
      net.runFor(5000)
      net.messages = 0
      net.runFor(20_000)
      return net.messages / n / 20
    }
    const small = rate(40)
    const large = rate(400)
    expect(large).toBeLessThan(small * 1.15)
    expect(large).toBeGreaterThan(small * 0.85)
  })

  it('a relay cut off for 10 s leaves every view, keeps its own verdicts to itself, and is back within 5 s of the heal', () => {
    const net = convergedNetwork(40, { ...LAN, seed: 17 })
    net.runFor(5000)
    const iso = net.nodes[9]!
    const others = net.nodes.filter((n) => n !== iso)
    // Every time a relay of the majority drops another one of the majority from its view.
    let wrongDowns = 0
    net.observer = { down: (o, node) => { if (o !== iso.idx && node !== iso.id) wrongDowns++ } }
    net.partition([iso])
    net.runFor(10_000)
    expect(net.viewersOf(iso)).toBe(0)
    // The majority never lost sight of each other: the cut-off relay gossiped nothing.
    for (const o of others) for (const p of others) if (o !== p) expect(o.membership.store.inView(p.id)).toBe(true)
    net.heal()
    const back = net.runUntil(() => liveViewsComplete(net), 10_000, 10)
    expect(back).toBeGreaterThanOrEqual(0)
    expect(back).toBeLessThanOrEqual(5000)
    // Nor after the heal: what it concluded alone (everyone else dead) did not spread.
    net.runFor(10_000)
    expect(wrongDowns).toBe(0)
  })

  it('a relay that leaves gracefully is gone from every view at once', () => {
    const net = convergedNetwork(50, { ...LAN, seed: 18 })
    net.runFor(3000)
    const leaver = net.nodes[4]!
    leaver.membership.leave()
    const gone = net.runUntil(() => net.viewersOf(leaver) === 0, 5000, 1)
    expect(gone).toBeGreaterThanOrEqual(0)
    expect(gone).toBeLessThan(100)
  })

  it('100 relays joining over 2 s through one contact each converge; a later one is in every view within 2 s', () => {
    const net = bootstrapNetwork(100, 2000, { ...LAN, seed: 19 })
    const t = net.runUntil(() => liveViewsComplete(net), 30_000, 50)
    expect(t).toBeGreaterThanOrEqual(0)
    const late = net.add()
    late.membership.addContact(net.nodes[0]!.id, ['/sim/0'])
    late.membership.start()
    const joined = net.runUntil(() => liveViewsComplete(net), 10_000, 10)
    expect(joined).toBeGreaterThanOrEqual(0)
    expect(joined).toBeLessThanOrEqual(2000)
    net.runFor(10_000)
    const degrees = net.nodes.map((n) => n.membership.degree)
    expect(Math.max(...degrees)).toBeLessThanOrEqual(net.config.maxDegree)
    expect(Math.min(...degrees)).toBeGreaterThanOrEqual(1)
  })

  it('a forged death of a live relay is refuted by the relay itself', () => {
    const net = convergedNetwork(30, { ...LAN, seed: 20 })
    net.runFor(3000)
    const target = net.nodes[7]!
    const liar = net.nodes[8]!
    // The liar tells its neighbors that the target is dead, as a hostile relay could.
    const note = { node: target.id, version: target.membership.currentVersion, status: Liveness.dead, from: liar.id } as const
    liar.membership.store.applyNote(note, net.clock.now)
    for (const p of net.nodes) {
      if (net.linkBetween(liar, p) !== undefined) liar.membership.receive(p.id, { t: 'pull', nodes: [target.id] })
    }
    const back = net.runUntil(() => liveViewsComplete(net) && target.membership.stats.refutations > 0, 5000, 5)
    expect(back).toBeGreaterThanOrEqual(0)
    expect(back).toBeLessThanOrEqual(2000)
  })

  it('the partial view stays bounded and connected (200 relays)', () => {
    const net = convergedNetwork(200, { ...LAN, seed: 21 })
    net.runFor(20_000)
    const seen = new Set<number>([0])
    const queue = [0]
    while (queue.length > 0) {
      const i = queue.pop()!
      for (const info of net.nodes[i]!.membership.view.info(net.clock.now, 1)) {
        const j = net.node(info.peer).idx
        if (!seen.has(j)) {
          seen.add(j)
          queue.push(j)
        }
      }
    }
    expect(seen.size).toBe(200)
    for (const n of net.nodes) expect(n.membership.degree).toBeLessThanOrEqual(net.config.maxDegree)
  })
})

describe('phi-accrual detector', () => {
  it('suspicion grows with silence, and a jittery link is judged more patiently than a regular one', () => {
    const regular = new PhiAccrual({ firstIntervalMs: 500, minStdMs: 50, acceptablePauseMs: 0 })
    const jittery = new PhiAccrual({ firstIntervalMs: 500, minStdMs: 50, acceptablePauseMs: 0 })
    let t = 0
    let u = 0
    for (let k = 0; k < 100; k++) {
      regular.heartbeat((t += 500))
      jittery.heartbeat((u += k % 2 === 0 ? 200 : 1200))
    }
    const silences = [450, 500, 550, 600, 650]
    const phis = silences.map((s) => regular.phi(t + s))
    for (let k = 1; k < phis.length; k++) expect(phis[k]!).toBeGreaterThan(phis[k - 1]!)
    expect(jittery.phi(u + 1500)).toBeLessThan(regular.phi(t + 1500))
  })
})
