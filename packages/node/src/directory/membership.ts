import { Gossip } from './membership-gossip.js'
import { Suspicions } from './membership-probes.js'
import { MembershipStore, diffData, toDelta, type NodeInterner } from './membership-store.js'
import { MembershipView } from './membership-view.js'
import {
  DEFAULT_MEMBERSHIP, EMPTY_DATA, Liveness,
  type ControlMessage, type Delta, type MembershipConfig, type MembershipEnv, type MembershipListener, type NodeData,
  type NodeId, type StatusNote, type TimerHandle,
} from './membership-types.js'

export interface MembershipInit {
  self: NodeId
  env: MembershipEnv
  listener?: MembershipListener
  config?: Partial<MembershipConfig>
  /** Shared node-id table (the simulator shares one among all its relays). */
  interner?: NodeInterner
  /** Our entry's first version; default now × 1000, so a restarted relay outranks its old tombstone. */
  version?: number
  data?: NodeData
}

export interface MembershipStats {
  suspicionsRaised: number
  /** Suspicions we raised that ended with the suspect heard (our false positives). */
  falseSuspicions: number
  /** Times we refuted a verdict (or a forged entry) about ourselves. */
  refutations: number
  deathsDeclared: number
  received: number
}

/**
 * Membership and failure detection for one relay: SWIM (indirect probes, infection-style
 * dissemination, refutation) with Lifeguard's refinements (verdicts that come sooner the more
 * relays confirm, a local-health multiplier, no verdict from silence seen while our own event
 * loop stalled), over a bounded partial view of neighbors as in HyParView (membership-view.ts)
 * instead of a full mesh. Each neighbor is watched by a phi-accrual detector learnt from its
 * pings, so a slow link is not a dead relay; a lost connection is strong evidence only when it
 * cannot be reopened. Suspicion stays near the suspect (membership-probes.ts); only verdicts
 * and entry changes reach every relay (membership-gossip.ts). Per relay and second the work is
 * O(degree) — pings to neighbors, a digest now and then — whatever the network's size.
 *
 * I/O-free: time, randomness and links come from `MembershipEnv`, so the very same code runs
 * in a relay and in the simulator (packages/node/src/sim).
 */
export class Membership {
  readonly self: NodeId
  readonly store: MembershipStore
  readonly config: MembershipConfig
  readonly stats: MembershipStats = { suspicionsRaised: 0, falseSuspicions: 0, refutations: 0, deathsDeclared: 0, received: 0 }
  private readonly env: MembershipEnv
  private readonly listener: MembershipListener
  private readonly gossip: Gossip
  private readonly suspicions: Suspicions
  readonly view: MembershipView
  private version: number
  private data: NodeData
  private readonly gapForwarded = new Map<NodeId, number>()
  private readonly syncServed = new Map<NodeId, number>()
  /** Lifeguard's local health: 0 (good) .. 8; stretches our timeouts when we are the slow one. */
  health = 0
  private synced = false
  private syncedAt = 0
  private running = false
  private leaving = false
  private timer: TimerHandle | undefined
  private lastTick = 0
  private startedAt = 0
  private nextAntiEntropy = 0
  private nextSweep = 0
  private nextHealthDecay = 0

  constructor(init: MembershipInit) {
    this.self = init.self
    this.env = init.env
    this.config = { ...DEFAULT_MEMBERSHIP, ...init.config }
    const user = init.listener ?? {}
    this.listener = user
    this.store = new MembershipStore({
      ...(init.interner !== undefined ? { interner: init.interner } : {}),
      maxNodes: this.config.maxNodes,
      buckets: this.config.digestBuckets,
      listener: {
        data: (node, before, after) => { if (node !== this.self) user.data?.(node, before, after) },
        down: (node, before) => this.onDown(node, before),
      },
    })
    this.gossip = new Gossip({
      store: this.store,
      self: this.self,
      maxItems: this.config.maxItemsPerMessage,
      send: (peer, msg) => this.env.send(peer, msg),
      neighborPeers: (except) => this.view.activePeers(except),
    })
    this.view = new MembershipView({
      self: this.self,
      config: this.config,
      env: this.env,
      store: this.store,
      send: (peer, msg) => this.gossip.send(peer, msg),
      holds: (peer) => this.suspicions.holds(peer),
      onLinkUp: (peer, fresh) => this.onLinkUp(peer, fresh),
      onLost: (peer, strong, probers) => this.suspect(peer, strong, probers),
    })
    this.suspicions = new Suspicions({
      config: this.config,
      now: () => this.env.now(),
      random: () => this.env.random(),
      slowness: () => ({ scale: 1 + this.health, rto: this.view.maxRto() }),
      linked: (peer) => this.view.linked(peer),
      inView: (node) => this.store.inView(node),
      watching: (node) => this.view.watching(node),
      rtoOf: (node) => this.view.rtoOf(node),
      neighborCount: () => this.view.activeCount(),
      send: (peer, msg) => this.gossip.send(peer, msg),
      connect: (peer) => this.view.connect(peer),
      release: (peer) => { if (!this.view.holds(peer)) this.env.release(peer) },
      declareDead: (node) => this.declareDead(node),
      cleared: (node, refuted) => this.onCleared(node, refuted),
    })
    const now = this.env.now()
    this.version = init.version ?? Math.floor(now) * 1000
    this.data = init.data ?? EMPTY_DATA
    this.store.applyDelta(toDelta(this.self, this.version, this.data), now)
  }

  // ---- lifecycle --------------------------------------------------------------------

  start(): void {
    if (this.running) return
    this.running = true
    const now = this.env.now()
    this.lastTick = now
    this.startedAt = now
    this.nextAntiEntropy = now + 1000 * (0.5 + this.env.random())
    this.nextSweep = now + this.config.antiEntropyMs
    this.view.start(now)
    this.schedule()
  }

  /** Leaves gracefully: every relay drops us at once instead of having to find out. */
  leave(): void {
    if (!this.running) return
    this.leaving = true
    const note: StatusNote = { node: this.self, version: this.version, status: Liveness.dead, from: this.self }
    this.store.applyNote(note, this.env.now())
    this.gossip.flood([], [note], undefined)
    this.stop()
  }

  stop(): void {
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
  }

  private schedule(): void {
    if (!this.running) return
    this.timer = this.env.setTimer(this.config.tickMs, () => {
      this.tick()
      this.schedule()
    })
  }

  /**
   * A relay to try when we have no neighbor (a bootstrap address, an mDNS sighting). One we
   * have never heard of, or hold dead, is linked at once: it may be another group of relays
   * (started apart, or the other side of a healed partition), and views merge over that link.
   */
  addContact(node: NodeId, addrs: readonly string[]): void {
    if (node === this.self) return
    this.view.addContact(node, addrs)
    if (this.running && this.view.activeCount() > 0 && !this.store.inView(node)) this.view.connectContact(node, this.env.now())
  }

  /** Our own entry changed (clusters, topics, addresses): one new version, pushed as a delta. */
  setData(data: NodeData): void {
    const delta = diffData(this.self, this.version, this.version + 1, this.data, data)
    this.data = data
    this.version++
    this.store.applyDelta(delta, this.env.now())
    this.gossip.flood([delta], [], undefined)
  }

  get currentVersion(): number {
    return this.version
  }

  // ---- links (from the link layer) -------------------------------------------------

  /** A link to `peer` is up (opened by either side). */
  linkUp(peer: NodeId): void {
    if (peer !== this.self) this.view.linkUp(peer)
  }

  /** The link to `peer` closed. */
  linkDown(peer: NodeId): void {
    this.view.linkDown(peer, this.leaving)
  }

  /**
   * A link to `peer` could not be opened (asked for by us or by data). `refused`: the link
   * layer knows nobody is there (refused, no address) rather than a timeout; when it cannot
   * tell, a failure within two seconds counts as refused.
   */
  connectFailed(peer: NodeId, refused?: boolean): void {
    this.suspicions.connectFailed(peer)
    this.view.connectFailed(peer, refused)
  }

  /** Any frame from `peer` (data traffic included) is a sign of life. */
  heard(peer: NodeId): void {
    this.view.heard(peer, this.env.now())
    this.suspicions.heard(peer)
  }

  private onLinkUp(peer: NodeId, healing: boolean): void {
    const now = this.env.now()
    this.suspicions.linkUp(peer)
    if (this.store.livenessOf(peer) === Liveness.dead) {
      // It is declared dead, yet here it is: tell it, so it refutes.
      const { note } = this.store.full(peer)
      if (note !== undefined) this.gossip.sendChanges(peer, [], [note], false)
    }
    // A joining relay needs the directory; one back from isolation, or meeting a relay it
    // thought dead (two halves of a partition), needs to merge views.
    if ((healing && this.synced) || (!this.synced && this.view.shouldAskSync(now))) {
      this.gossip.send(peer, { t: 'sync' })
      // And our own entry, as news: the other side passes it on, so every relay learns of us.
      this.gossip.sendChanges(peer, [toDelta(this.self, this.version, this.data)], [], false)
    }
  }

  // ---- messages ---------------------------------------------------------------------

  receive(peer: NodeId, msg: ControlMessage): void {
    if (!this.running) return
    const now = this.env.now()
    this.stats.received++
    this.view.heard(peer, now)
    this.suspicions.heard(peer)
    switch (msg.t) {
      case 'ping': this.view.onPing(peer, msg, now); return
      case 'pong': this.view.onPong(peer, msg.seq, now); return
      case 'neighbor': this.view.onNeighborRequest(peer, msg.high, now); return
      case 'neighbor-reply': this.view.onNeighborReply(peer, msg.accepted, now); return
      case 'disconnect': this.view.onDisconnect(peer); return
      case 'probe-req': this.suspicions.onProbeReq(peer, msg.node, msg.seq); return
      case 'probe': this.gossip.send(peer, { t: 'probe-ack', seq: msg.seq }); return
      case 'probe-ack': this.suspicions.onProbeAck(peer, msg.seq); return
      case 'probe-reply': this.suspicions.onProbeReply(peer, msg.node, msg.seq, msg.alive); return
      case 'sync': this.onSync(peer, now); return
      case 'gossip': this.onGossip(peer, msg.deltas, msg.notes, msg.sync === true, now); return
      case 'digest': this.gossip.onDigest(peer, msg.buckets); return
      case 'digest-detail': this.gossip.onDigestDetail(peer, msg.buckets, msg.items); return
      case 'pull': this.gossip.sendEntries(peer, msg.nodes); return
    }
  }

  /** A whole directory per peer every few seconds at most: a sync is costly to answer. */
  private onSync(peer: NodeId, now: number): void {
    if ((this.syncServed.get(peer) ?? -Infinity) > now - 5000) return
    if (this.syncServed.size > 1024) this.syncServed.clear()
    this.syncServed.set(peer, now)
    this.gossip.sendEntries(peer, this.store.nodes())
  }

  private onGossip(peer: NodeId, deltas: readonly Delta[], notes: readonly StatusNote[], sync: boolean, now: number): void {
    // A state transfer is old news, except to a relay that already had a view of its own
    // (rejoining after a partition): what is new to it may be new to its side, too.
    const forward = !sync || (this.synced && now - this.syncedAt > 10_000)
    if (sync && !this.synced) {
      this.synced = true
      this.syncedAt = now
    }
    const fwdDeltas: Delta[] = []
    const pulls: NodeId[] = []
    for (const d of deltas) {
      if (d.node === this.self) {
        // Someone holds a newer version of our entry than we do (a forgery, or our previous
        // life's): answer with a newer one of our own. Our own deltas come back by other paths
        // at our version: that is just the flood.
        if (d.version > this.version && !this.leaving) this.refute(d.version, true)
        continue
      }
      const r = this.store.applyDelta(d, now)
      // The sender holds it alive: a verdict we reached alone (while cut off) yields to that.
      if (r === 'dup') this.store.clearLocalDead(d.node)
      if (r === 'new') {
        this.gapForwarded.delete(d.node)
        fwdDeltas.push(d)
      } else if (r === 'gap') {
        // We miss its base: pull the whole entry; pass the delta on once (others hold the base).
        pulls.push(d.node)
        if ((this.gapForwarded.get(d.node) ?? 0) < d.version) {
          if (this.gapForwarded.size > 4096) this.gapForwarded.clear()
          this.gapForwarded.set(d.node, d.version)
          fwdDeltas.push(d)
        }
      }
    }
    const fwdNotes: StatusNote[] = []
    for (const note of notes) {
      // Suspicion stays near the suspect (probes); only verdicts travel. A suspect note is not
      // part of the protocol: it would only let a hostile relay pin an entry as suspect.
      if (note.status !== Liveness.dead) continue
      if (note.node === this.self) {
        if (note.version >= this.version && !this.leaving) this.refute(note.version, false)
        continue
      }
      if (this.store.applyNote(note, now) === 'new') fwdNotes.push(note)
    }
    if (pulls.length > 0) this.gossip.send(peer, { t: 'pull', nodes: pulls })
    if (forward) this.gossip.flood(fwdDeltas, fwdNotes, peer)
  }

  /** Refutes a verdict about us: a version above `above` (the whole entry if ours was forged). */
  private refute(above: number, whole: boolean): void {
    const old = this.version
    this.version = Math.max(old, above) + 1
    this.stats.refutations++
    this.health = Math.min(8, this.health + 1)
    const delta: Delta = whole ? toDelta(this.self, this.version, this.data) : { node: this.self, base: old, version: this.version }
    this.store.applyDelta(delta, this.env.now())
    this.listener.log?.('refuted', { version: this.version })
    // To every link, not only neighbors: a relay that met us across a healed partition must hear it.
    for (const peer of this.view.linkedPeers()) this.gossip.sendChanges(peer, [delta], [], false)
  }

  // ---- failure detection ------------------------------------------------------------

  private suspect(peer: NodeId, strong: boolean, probers: readonly NodeId[]): void {
    if (this.suspicions.has(peer) || !this.store.inView(peer)) return
    this.stats.suspicionsRaised++
    this.view.setSuspected(peer, true)
    this.listener.log?.('suspect', { node: peer, strong, health: this.health })
    this.listener.suspect?.(peer, true)
    this.suspicions.suspect(peer, strong, probers, this.self)
  }

  private onCleared(node: NodeId, refuted: boolean): void {
    this.view.setSuspected(node, false)
    if (refuted) {
      // We were wrong: our link (or we) is the slow one. Lifeguard: be more patient for a while.
      this.stats.falseSuspicions++
      this.health = Math.min(8, this.health + 1)
    }
    this.listener.log?.('cleared', { node, refuted })
    this.listener.suspect?.(node, false)
  }

  private declareDead(node: NodeId): void {
    if (!this.store.inView(node)) return
    this.stats.deathsDeclared++
    const gossiped = this.view.healthy(node, this.env.now(), 1 + this.health)
    if (gossiped) {
      const note: StatusNote = { node, version: this.store.keyVersionOf(node), status: Liveness.dead, from: this.self }
      if (this.store.applyNote(note, this.env.now()) === 'new') this.gossip.flood([], [note], undefined)
    } else {
      // Cut off from every neighbor, we cannot tell who is dead: the verdict stays ours.
      this.store.markLocalDead(node)
    }
    this.listener.log?.('dead', { node, gossiped })
  }

  private onDown(node: NodeId, before: NodeData): void {
    if (node === this.self) return
    this.suspicions.forget(node)
    this.view.dropped(node)
    this.listener.down?.(node, before)
  }

  // ---- the periodic tick ------------------------------------------------------------

  private tick(): void {
    const now = this.env.now()
    const lag = now - this.lastTick - this.config.tickMs
    this.lastTick = now
    if (lag > this.config.stallMs) {
      // We were frozen or starved: the silence we saw says nothing about the others.
      this.view.restart(now)
      this.suspicions.restart(now)
      this.health = Math.min(8, this.health + 1)
    }
    this.view.tick(now, 1 + this.health)
    this.suspicions.tick(now)
    if (now >= this.nextAntiEntropy) {
      // A relay that just joined may have synced from a contact that was itself still
      // joining: compare digests every second for a while, then at the usual low rate.
      const period = now - this.startedAt < 20_000 ? Math.min(1000, this.config.antiEntropyMs) : this.config.antiEntropyMs
      this.nextAntiEntropy = now + period * (0.75 + this.env.random() / 2)
      const peer = this.view.randomActive()
      if (peer !== undefined) this.gossip.digest(peer)
    }
    if (now >= this.nextSweep) {
      this.nextSweep = now + this.config.antiEntropyMs
      this.store.sweep(now, this.config.tombstoneMs, this.self)
    }
    if (now >= this.nextHealthDecay) {
      this.nextHealthDecay = now + 5000
      if (this.health > 0) this.health--
    }
  }

  /**
   * Starts as if already joined: `peers` are neighbors with open links, the directory already
   * seeded (store.seed). For the simulator, which cannot afford ten thousand real joins
   * (each a state transfer of the whole directory); everything after is the normal protocol.
   */
  adoptNeighbors(peers: readonly NodeId[]): void {
    this.synced = true
    this.syncedAt = this.env.now() - 60_000
    this.view.adopt(peers, this.env.now())
  }

  // ---- status -----------------------------------------------------------------------

  /** The neighbors, for status pages. */
  neighborInfo(): Array<{ peer: NodeId; state: string; srtt: number; phi: number; degree: number; suspected: boolean }> {
    return this.view.info(this.env.now(), 1 + this.health)
  }

  /** Links membership wants kept (neighbors, links being opened, probes). */
  holds(peer: NodeId): boolean {
    return this.view.holds(peer) || this.suspicions.holds(peer)
  }

  /** Do we suspect `node` right now (a probe round runs)? */
  suspects(node: NodeId): boolean {
    return this.suspicions.has(node)
  }

  /** Messages sent, by type. */
  get sentByType(): ReadonlyMap<string, number> {
    return this.gossip.sent
  }

  get degree(): number {
    return this.view.activeCount()
  }
}
