import { SimNetwork, type NetworkInit, type SimNode } from './network.js'

/**
 * A network of `n` relays that has already converged: every directory holds every relay, and
 * the neighbor graph is random with the configured degree (as the protocol's own upkeep would
 * leave it). Ten thousand real joins would be ten thousand state transfers of the whole
 * directory; everything after this start is the normal protocol.
 */
export function convergedNetwork(n: number, init: NetworkInit = {}): SimNetwork {
  const net = new SimNetwork(init)
  const base = net.clock.now * 1000
  for (let i = 0; i < n; i++) net.add(base + i)
  const now = net.clock.now
  for (const node of net.nodes) node.membership.store.reserve(n)
  const entries = net.nodes.map((o) => ({
    i: net.interner.intern(o.id),
    version: o.membership.currentVersion,
    data: o.membership.store.dataOf(o.id)!,
    hash: o.membership.store.hashOf(o.id),
  }))
  // One directory at a time, written in order: ten thousand of them is 10^8 entries.
  for (const node of net.nodes) {
    const store = node.membership.store
    for (const e of entries) if (e.i !== node.idx) store.seedAt(e.i, e.version, e.data, now, e.hash)
  }
  const target = Math.min(net.config.targetDegree, n - 1)
  const peers: Array<Set<number>> = net.nodes.map(() => new Set())
  // Random graph: each relay picks partners at random among those with room.
  for (let i = 0; i < n; i++) {
    let guard = 0
    while (peers[i]!.size < target && guard++ < 50 * target) {
      const j = Math.floor(net.random() * n)
      if (j === i || peers[i]!.has(j) || peers[j]!.size >= net.config.maxDegree) continue
      peers[i]!.add(j)
      peers[j]!.add(i)
    }
  }
  for (let i = 0; i < n; i++) {
    for (const j of peers[i]!) if (i < j) net.open(i, j)
    net.nodes[i]!.membership.adoptNeighbors([...peers[i]!].map((j) => net.nodes[j]!.id))
  }
  startStaggered(net, net.nodes)
  return net
}

/**
 * `n` relays started one after another over `spreadMs`, each knowing one earlier relay as its
 * contact (as bootstrap addresses would give): the real join path, state transfers included.
 */
export function bootstrapNetwork(n: number, spreadMs: number, init: NetworkInit = {}): SimNetwork {
  const net = new SimNetwork(init)
  for (let i = 0; i < n; i++) net.add()
  for (let i = 0; i < n; i++) {
    const node = net.nodes[i]!
    net.at((spreadMs * i) / n, () => {
      if (i > 0) {
        const contact = net.nodes[Math.floor(net.random() * i)]!
        node.membership.addContact(contact.id, [`/sim/${contact.idx}`])
      }
      node.membership.start()
    })
  }
  return net
}

/** Starts relays at random phases within one tick, so they do not all wake at the same instant. */
export function startStaggered(net: SimNetwork, nodes: readonly SimNode[]): void {
  for (const node of nodes) net.at(net.random() * net.config.tickMs, () => node.membership.start())
}
