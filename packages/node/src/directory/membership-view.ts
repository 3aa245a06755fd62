import { Neighbor } from './membership-neighbors.js'
import type { MembershipStore } from './membership-store.js'
import { Liveness, type ControlMessage, type MembershipConfig, type MembershipEnv, type NodeId } from './membership-types.js'

export interface ViewHost {
  readonly self: NodeId
  readonly config: MembershipConfig
  readonly env: MembershipEnv
  readonly store: MembershipStore
  send(peer: NodeId, msg: ControlMessage): void
  /** Other reasons to keep a link open (probes in progress). */
  holds(peer: NodeId): boolean
  /** A link is up; `healing` when it joins us with a relay we had lost sight of, or ends our isolation. */
  onLinkUp(peer: NodeId, healing: boolean): void
  /** A neighbor went silent (weak) or its lost connection could not be reopened (strong). */
  onLost(peer: NodeId, strong: boolean, probers: readonly NodeId[]): void
}

/**
 * The partial view (as in HyParView): the few neighbors a relay keeps links with and watches,
 * picked at random from the directory and replaced when lost, instead of a link to every
 * relay. A relay with no neighbor is always accepted (HyParView's high-priority join), making
 * room by dropping a neighbor that has others; a relay alone tries its contacts (bootstrap,
 * mDNS) and every relay it knows of, so a partitioned relay comes back on its own.
 */
export class MembershipView {
  private readonly host: ViewHost
  private readonly cfg: MembershipConfig
  private readonly links = new Set<NodeId>()
  private readonly neighbors = new Map<NodeId, Neighbor>()
  private readonly connecting = new Map<NodeId, number>()
  /** Neighbors whose link dropped, being reopened: failure to reopen is strong evidence. */
  private readonly lost = new Map<NodeId, { since: number; probers: readonly NodeId[] }>()
  private readonly refused = new Map<NodeId, number>()
  private readonly contacts = new Map<NodeId, readonly string[]>()
  private readonly contactTried = new Map<NodeId, number>()
  private nextAloneTry = 0
  private nextUpkeep = 0
  private nextDeadProbe = 0
  private nextProbeAt = 0
  /** Neighbors in the order this round probes them (shuffled each round, as SWIM does). */
  private probeOrder: NodeId[] = []
  private syncAskedAt = -Infinity
  /** Bumped whenever our neighbor set changes: pings carry the new list once. */
  private epoch = 0
  private readonly sentEpoch = new Map<NodeId, number>()

  constructor(host: ViewHost) {
    this.host = host
    this.cfg = host.config
  }

  start(now: number): void {
    this.nextDeadProbe = now + 30_000 * (0.5 + this.host.env.random())
    this.upkeep(now)
  }

  addContact(node: NodeId, addrs: readonly string[]): void {
    if (this.contacts.size >= 256 && !this.contacts.has(node)) return
    this.contacts.set(node, addrs)
    if (this.activeCount() === 0) this.nextAloneTry = 0
  }

  // ---- queries ----------------------------------------------------------------------

  activeCount(): number {
    let k = 0
    for (const n of this.neighbors.values()) if (n.state === 'active') k++
    return k
  }

  *activePeers(except: NodeId | undefined): Iterable<NodeId> {
    for (const n of this.neighbors.values()) {
      if (n.state === 'active' && n.peer !== except && this.links.has(n.peer)) yield n.peer
    }
  }

  linkedPeers(): NodeId[] {
    return [...this.links]
  }

  linked(peer: NodeId): boolean {
    return this.links.has(peer)
  }

  /** `node` is an active neighbor with a link: we can probe it. */
  watching(node: NodeId): boolean {
    return this.neighbors.get(node)?.state === 'active' && this.links.has(node)
  }

  /** How long an answer from `node` may take (its retransmission timeout, ms), or -1. */
  rtoOf(node: NodeId): number {
    return this.neighbors.get(node)?.rto() ?? -1
  }

  /** The longest retransmission timeout among our neighbors (ms). */
  maxRto(): number {
    let rto = 0
    for (const n of this.neighbors.values()) rto = Math.max(rto, n.rto())
    return rto
  }

  randomActive(): NodeId | undefined {
    const peers = [...this.activePeers(undefined)]
    return peers[Math.floor(this.host.env.random() * peers.length)]
  }

  /**
   * Some other neighbor answers right now (heard within its normal rhythm): a verdict of ours
   * can be checked by the rest. When every neighbor goes quiet at once, we are the one cut off.
   */
  healthy(except: NodeId, now: number, scale: number): boolean {
    for (const n of this.neighbors.values()) {
      if (n.state !== 'active' || n.suspected || n.peer === except || !this.links.has(n.peer)) continue
      if (n.phi(now, scale) < 1) return true
    }
    return false
  }

  holds(peer: NodeId): boolean {
    return this.neighbors.has(peer) || this.connecting.has(peer) || this.lost.has(peer)
  }

  shouldAskSync(now: number): boolean {
    if (now - this.syncAskedAt < 5000) return false
    this.syncAskedAt = now
    return true
  }

  /** Neighbors, for status pages and tests. */
  info(now: number, scale: number): Array<{ peer: NodeId; state: string; srtt: number; phi: number; degree: number; suspected: boolean }> {
    return [...this.neighbors.values()].map((n) => ({
      peer: n.peer, state: n.state, srtt: n.srtt, phi: n.phi(now, scale), degree: n.degree, suspected: n.suspected,
    }))
  }

  // ---- links ------------------------------------------------------------------------

  /** Links an unknown (or lost) contact now, at most once per contact every 30 s. */
  connectContact(node: NodeId, now: number): void {
    if ((this.contactTried.get(node) ?? -Infinity) > now - 30_000) return
    if (this.contactTried.size > 1024) this.contactTried.clear()
    this.contactTried.set(node, now)
    this.connect(node)
  }

  connect(peer: NodeId): void {
    if (this.links.has(peer)) {
      this.linkUp(peer)
      return
    }
    if (this.connecting.has(peer)) return
    this.connecting.set(peer, this.host.env.now())
    this.host.env.connect(peer, this.addrsOf(peer))
  }

  /** Where to dial `peer`: its entry's addresses, or a contact's. */
  addrsOf(peer: NodeId): readonly string[] {
    return this.host.store.dataOf(peer)?.addrs ?? this.contacts.get(peer) ?? []
  }

  linkUp(peer: NodeId): void {
    const store = this.host.store
    const now = this.host.env.now()
    this.links.add(peer)
    this.connecting.delete(peer)
    const wasLocalDead = store.isLocalDead(peer)
    store.clearLocalDead(peer)
    const wasLost = this.lost.delete(peer)
    // Views to merge: a relay we had lost sight of, one we never heard of, or we had no
    // neighbor left (back from isolation).
    const lostSight = wasLocalDead || store.livenessOf(peer) === Liveness.dead
    const alone = this.activeCount() === 0
    this.host.onLinkUp(peer, lostSight || alone || !store.has(peer))
    if (this.neighbors.has(peer)) return
    if (lostSight || alone) {
      // A bridge between two views (or our only way in) must stay up: always accepted.
      this.neighbors.set(peer, new Neighbor(peer, 'asking', now, this.cfg))
      this.host.send(peer, { t: 'neighbor', high: true })
    } else if (wasLost || (this.neighbors.size < this.cfg.targetDegree && (this.refused.get(peer) ?? 0) <= now)) {
      this.ask(peer, now)
    }
  }

  linkDown(peer: NodeId, leaving: boolean): void {
    this.links.delete(peer)
    const n = this.neighbors.get(peer)
    if (n === undefined) return
    this.remove(peer)
    if (n.state !== 'active' || leaving || !this.host.store.inView(peer)) return
    // A lost connection may be a broken link or a dead relay: reopening it tells which.
    this.lost.set(peer, { since: this.host.env.now(), probers: n.theirNeighbors })
    this.connect(peer)
  }

  /** A link to `peer` could not be opened; `refusedHint` when the link layer knows whether nobody is there. */
  connectFailed(peer: NodeId, refusedHint?: boolean): void {
    const since = this.connecting.get(peer)
    this.connecting.delete(peer)
    const lost = this.lost.get(peer)
    this.lost.delete(peer)
    // Refused at once (nobody listens where the relay says it is) is evidence: a lost neighbor
    // that is dead, or a relay of the directory we tried to link (or send to) that is dead or
    // was never real (a forged entry). A dial that only timed out says more about the network.
    const refused = refusedHint ?? (since !== undefined && this.host.env.now() - since < 2000)
    if (lost !== undefined) this.host.onLost(peer, refused, lost.probers)
    else if (refused && !this.neighbors.has(peer) && this.host.store.inView(peer)) this.host.onLost(peer, true, [])
  }

  heard(peer: NodeId, now: number): void {
    this.neighbors.get(peer)?.heard(now)
  }

  /** `node` left the view: no longer a neighbor. */
  dropped(node: NodeId): void {
    this.lost.delete(node)
    if (this.neighbors.has(node)) {
      this.remove(node)
      this.release(node)
    }
  }

  setSuspected(node: NodeId, suspected: boolean): void {
    const n = this.neighbors.get(node)
    if (n === undefined) return
    n.suspected = suspected
    // Cleared: it answered (or we heard from it); the probe that raised it is settled.
    if (!suspected) n.probeSeq = 0
  }

  private release(peer: NodeId): void {
    if (!this.host.holds(peer)) this.host.env.release(peer)
  }

  private remove(peer: NodeId): void {
    if (!this.neighbors.delete(peer)) return
    this.epoch++
    this.sentEpoch.delete(peer)
  }

  // ---- neighbor protocol ------------------------------------------------------------

  private ask(peer: NodeId, now: number): void {
    this.neighbors.set(peer, new Neighbor(peer, 'asking', now, this.cfg))
    this.host.send(peer, { t: 'neighbor', high: this.activeCount() === 0 })
  }

  private activate(n: Neighbor, now: number): void {
    n.state = 'active'
    n.since = now
    n.lastHeard = now
    this.epoch++
    // A first probe at once: it learns the round trip and tells the other side our neighbors.
    this.ping(n, now)
  }

  onNeighborRequest(peer: NodeId, high: boolean, now: number): void {
    const existing = this.neighbors.get(peer)
    const active = this.activeCount()
    if (existing?.state === 'active') {
      this.host.send(peer, { t: 'neighbor-reply', accepted: true })
      return
    }
    if (existing !== undefined) {
      // We asked each other at once: one answer settles both (room permitting).
      if (active >= this.cfg.maxDegree && !high) {
        this.remove(peer)
        this.host.send(peer, { t: 'neighbor-reply', accepted: false })
        return
      }
      if (active >= this.cfg.maxDegree) this.evictOne()
      this.activate(existing, now)
      this.host.send(peer, { t: 'neighbor-reply', accepted: true })
      return
    }
    if (active >= this.cfg.maxDegree && !high) {
      this.host.send(peer, { t: 'neighbor-reply', accepted: false })
      return
    }
    if (active >= this.cfg.maxDegree) this.evictOne()
    const n = new Neighbor(peer, 'active', now, this.cfg)
    this.neighbors.set(peer, n)
    this.host.send(peer, { t: 'neighbor-reply', accepted: true })
    this.activate(n, now)
  }

  onNeighborReply(peer: NodeId, accepted: boolean, now: number): void {
    const n = this.neighbors.get(peer)
    if (n === undefined || n.state !== 'asking') return
    if (accepted && this.activeCount() < this.cfg.maxDegree) {
      this.activate(n, now)
      return
    }
    if (accepted) {
      // Full meanwhile (others asked us): decline after all.
      this.remove(peer)
      this.host.send(peer, { t: 'disconnect' })
      this.release(peer)
      return
    }
    this.remove(peer)
    this.refused.set(peer, now + this.cfg.refusedBackoffMs)
    this.release(peer)
  }

  onDisconnect(peer: NodeId): void {
    if (!this.neighbors.has(peer)) return
    this.remove(peer)
    this.release(peer)
  }

  onPing(peer: NodeId, msg: Extract<ControlMessage, { t: 'ping' }>, now: number): void {
    const n = this.neighbors.get(peer)
    if (n === undefined) {
      // It thinks we are neighbors; we are not (any more): say so, so it fixes its view.
      this.host.send(peer, { t: 'disconnect' })
      return
    }
    n.pinged(now, msg)
    this.host.send(peer, { t: 'pong', seq: msg.seq })
  }

  onPong(peer: NodeId, seq: number, now: number): void {
    this.neighbors.get(peer)?.ponged(now, seq)
  }

  /** Drops a random neighbor, preferring one that keeps enough others without us. */
  private evictOne(): void {
    const active = [...this.neighbors.values()].filter((n) => n.state === 'active')
    const rich = active.filter((n) => n.degree > this.cfg.targetDegree)
    const pool = rich.length > 0 ? rich : active
    const victim = pool[Math.floor(this.host.env.random() * pool.length)]
    if (victim === undefined) return
    this.remove(victim.peer)
    this.host.send(victim.peer, { t: 'disconnect' })
    this.release(victim.peer)
  }

  private ping(n: Neighbor, now: number): void {
    const seq = n.probe(now)
    const fresh = this.sentEpoch.get(n.peer) !== this.epoch
    if (fresh) this.sentEpoch.set(n.peer, this.epoch)
    const msg: ControlMessage = fresh
      ? { t: 'ping', seq, degree: this.activeCount(), neighbors: [...this.activePeers(undefined)] }
      : { t: 'ping', seq, degree: this.activeCount() }
    this.host.send(n.peer, msg)
  }

  /** The next neighbor to probe: each once per round, in a new random order every round. */
  private nextToProbe(): Neighbor | undefined {
    for (let tries = 0; tries < 2; tries++) {
      while (this.probeOrder.length > 0) {
        const n = this.neighbors.get(this.probeOrder.pop()!)
        if (n !== undefined && n.state === 'active' && this.links.has(n.peer)) return n
      }
      this.probeOrder = shuffle([...this.activePeers(undefined)], this.host.env.random)
    }
    return undefined
  }

  // ---- time -------------------------------------------------------------------------

  tick(now: number, scale: number): void {
    for (const n of this.neighbors.values()) {
      if (n.state === 'asking') {
        if (now - n.since > 5000) {
          this.remove(n.peer)
          this.release(n.peer)
        }
        continue
      }
      if (!this.links.has(n.peer)) continue
      // A probe unanswered for longer than its round trips make plausible: suspected.
      if (!n.suspected && n.phi(now, scale) > this.cfg.phiThreshold) this.host.onLost(n.peer, false, n.theirNeighbors)
    }
    if (now >= this.nextProbeAt) {
      this.nextProbeAt = now + this.cfg.probeIntervalMs
      const n = this.nextToProbe()
      // One probe out per neighbor at a time: an unanswered one is judged, not repeated.
      if (n !== undefined && (n.probeSeq === 0 || n.lastHeard >= n.probeSentAt)) this.ping(n, now)
    }
    for (const [peer, l] of this.lost) {
      if (now - l.since > 5000) {
        this.lost.delete(peer)
        this.host.onLost(peer, false, l.probers)
      }
    }
    for (const [peer, since] of this.connecting) if (now - since > 15_000) this.connecting.delete(peer)
    for (const [peer, until] of this.refused) if (until <= now) this.refused.delete(peer)
    if (now >= this.nextUpkeep) this.upkeep(now)
  }

  /** Our own event loop stalled: silence seen meanwhile is not evidence. */
  restart(now: number): void {
    for (const n of this.neighbors.values()) n.restart(now)
  }

  /** Keeps the partial view full: random relays from the directory; contacts while alone. */
  private upkeep(now: number): void {
    const env = this.host.env
    this.nextUpkeep = now + 1000 * (0.75 + env.random() / 2)
    const active = this.activeCount()
    if (now >= this.nextDeadProbe) {
      // Two halves of a healed partition hold each other dead and have no link across: now and
      // then, try one relay we lost sight of (a failed dial costs little).
      this.nextDeadProbe = now + 30_000 * (0.5 + env.random())
      const dead = this.host.store.randomNode(env.random, (node, inView) => !inView && node !== this.host.self && !this.links.has(node), 64)
      if (dead !== undefined && active > 0) this.connect(dead)
    }
    if (this.neighbors.size + this.connecting.size >= this.cfg.targetDegree) return
    if (active === 0 && now >= this.nextAloneTry) {
      this.nextAloneTry = now + this.cfg.aloneRetryMs
      env.discover?.()
      // Every usable contact at once (up to the degree): one that hangs or belongs to another
      // network must not keep us from those that would answer.
      const contacts = this.pickContacts(now, this.cfg.targetDegree - this.neighbors.size - this.connecting.size)
      for (const c of contacts) this.connect(c)
      if (contacts.length > 0 || this.neighbors.size > 0) return
    }
    const pick = this.host.store.randomNode(env.random, (node, inView) =>
      inView && node !== this.host.self && !this.neighbors.has(node) && !this.connecting.has(node) && (this.refused.get(node) ?? 0) <= now)
    if (pick === undefined) return
    if (this.links.has(pick)) this.ask(pick, now)
    else this.connect(pick)
  }

  /** Alone: the contacts not being dialled, or else any relay we know of (those we lost sight of included). */
  private pickContacts(now: number, max: number): NodeId[] {
    const env = this.host.env
    if (max <= 0) return []
    const fromContacts = [...this.contacts.keys()].filter((c) => !this.connecting.has(c) && !this.links.has(c))
    if (fromContacts.length > 0) return shuffle(fromContacts, env.random).slice(0, max)
    const fromStore = this.host.store.randomNode(env.random, (node) =>
      node !== this.host.self && !this.connecting.has(node) && !this.links.has(node) && (this.refused.get(node) ?? 0) <= now)
    return fromStore === undefined ? [] : [fromStore]
  }

  /** For the simulator's converged start: these are neighbors with open links already. */
  adopt(peers: readonly NodeId[], now: number): void {
    for (const peer of peers) {
      this.links.add(peer)
      this.neighbors.set(peer, new Neighbor(peer, 'active', now, this.cfg))
    }
    this.epoch++
  }
}

/** Fisher-Yates, in place: every order equally likely. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i]!
    items[i] = items[j]!
    items[j] = t
  }
  return items
}
