import { FRAME_HEADER_BYTES, encodeControl } from '@herald/wire'
import { Membership } from '../directory/membership.js'
import { NodeInterner } from '../directory/membership-store.js'
import {
  DEFAULT_MEMBERSHIP, type ControlMessage, type MembershipConfig, type MembershipEnv, type NodeData, type NodeId,
} from '../directory/membership-types.js'
import { SimClock, normal, seededRandom, type SimEvent } from './clock.js'

/**
 * A virtual network for the membership code: relays are `Membership` instances (the very code
 * a relay runs), links behave like TCP connections (ordered, reliable; latency with normally
 * distributed jitter; a lost segment costs a retransmission timeout of at least 200 ms, doubling
 * while it keeps being lost, and holds back everything behind it), and relays can be killed
 * (their connections reset), frozen (SIGSTOP: nothing runs, bytes wait) or partitioned (bytes
 * wait until the heal).
 */
export interface NetworkInit {
  seed?: number
  /** One-way latency: mean and standard deviation (ms). */
  latencyMs?: number
  jitterMs?: number
  /** Probability that a message's segment is lost once (then retransmitted). */
  loss?: number
  config?: Partial<MembershipConfig>
  /** Encode every message to count the bytes a relay would send (slower). */
  measureBytes?: boolean
  /** Start of the virtual clock (ms since the epoch; versions derive from it). */
  epoch?: number
}

interface Direction {
  last: number
}

interface SimLink {
  readonly a: number
  readonly b: number
  open: boolean
  readonly dirs: [Direction, Direction]
}

export class SimNode {
  readonly id: NodeId
  readonly idx: number
  membership!: Membership
  alive = true
  frozen = false
  /** Work postponed while frozen (deliveries and timers), run in order on thaw. */
  backlog: Array<() => void> = []
  sent = 0
  sentBytes = 0
  received = 0
  constructor(id: NodeId, idx: number) {
    this.id = id
    this.idx = idx
  }
}

/** Listener hooks per observing node (the simulation's measurements). */
export interface Observer {
  data?(observer: number, node: NodeId, data: NodeData): void
  down?(observer: number, node: NodeId): void
}

export class SimNetwork {
  readonly clock: SimClock
  readonly random: () => number
  readonly interner = new NodeInterner()
  readonly nodes: SimNode[] = []
  private readonly byId = new Map<NodeId, SimNode>()
  private readonly links = new Map<number, SimLink>()
  private readonly linksOf: Array<Set<SimLink>> = []
  readonly config: MembershipConfig
  latencyMs: number
  jitterMs: number
  loss: number
  /** Node indices on one side of a partition (empty: none). */
  private side: Set<number> | undefined
  private held: Array<{ link: SimLink; from: number; deliver: () => void }> = []
  observer: Observer = {}
  /** Hop count of the message being delivered (for dissemination rounds), set by the caller's tracker. */
  hopOf: ((from: number, msg: ControlMessage) => number | undefined) | undefined
  currentHop: number | undefined
  messages = 0
  measureBytes: boolean

  constructor(init: NetworkInit = {}) {
    this.measureBytes = init.measureBytes ?? false
    this.clock = new SimClock(init.epoch ?? 1_800_000_000_000)
    this.random = seededRandom(init.seed ?? 1)
    this.latencyMs = init.latencyMs ?? 1
    this.jitterMs = init.jitterMs ?? 0
    this.loss = init.loss ?? 0
    this.config = { ...DEFAULT_MEMBERSHIP, ...init.config }
  }

  node(id: NodeId): SimNode {
    return this.byId.get(id)!
  }

  /** Adds a relay (not started). */
  add(version?: number): SimNode {
    const idx = this.nodes.length
    const node = new SimNode(`n${idx}`, idx)
    this.nodes.push(node)
    this.byId.set(node.id, node)
    this.linksOf.push(new Set())
    this.interner.intern(node.id)
    node.membership = new Membership({
      self: node.id,
      env: this.envFor(node),
      config: this.config,
      interner: this.interner,
      data: { addrs: [`/sim/${idx}`], clusters: new Map(), topics: new Set() },
      ...(version !== undefined ? { version } : {}),
      listener: {
        data: (n, _before, after) => this.observer.data?.(idx, n, after),
        down: (n) => this.observer.down?.(idx, n),
      },
    })
    return node
  }

  private envFor(node: SimNode): MembershipEnv {
    return {
      now: () => this.clock.now,
      random: this.random,
      setTimer: (ms, fn) => {
        const ev = this.clock.schedule(this.clock.now + ms, () => this.run(node, fn))
        return { cancel: () => this.clock.cancel(ev) }
      },
      send: (peer, msg) => this.send(node, this.node(peer), msg),
      connect: (peer) => this.connect(node, this.node(peer)),
      release: (peer) => this.release(node, this.node(peer)),
    }
  }

  /** Runs work on a node: nothing when dead, later when frozen. */
  private run(node: SimNode, fn: () => void): void {
    if (!node.alive) return
    if (node.frozen) node.backlog.push(fn)
    else fn()
  }

  private key(a: number, b: number): number {
    return a < b ? a * 1_000_003 + b : b * 1_000_003 + a
  }

  linkBetween(a: SimNode, b: SimNode): SimLink | undefined {
    const l = this.links.get(this.key(a.idx, b.idx))
    return l?.open === true ? l : undefined
  }

  private blocked(a: number, b: number): boolean {
    return this.side !== undefined && this.side.has(a) !== this.side.has(b)
  }

  /** One-way delay of a message: latency, jitter, and retransmission timeouts for losses. */
  private delay(): number {
    let d = Math.max(0.05, normal(this.random, this.latencyMs, this.jitterMs))
    let rto = Math.max(200, 2 * this.latencyMs + 4 * this.jitterMs)
    while (this.loss > 0 && this.random() < this.loss) {
      d += rto
      rto *= 2
    }
    return d
  }

  private send(from: SimNode, to: SimNode, msg: ControlMessage): void {
    const link = this.linkBetween(from, to)
    if (link === undefined || !from.alive) return
    from.sent++
    this.messages++
    // The bytes a relay puts on the link: the CONTROL frame (header, type) and its body.
    if (this.measureBytes) from.sentBytes += FRAME_HEADER_BYTES + encodeControl(msg).length
    const hop = this.hopOf?.(from.idx, msg)
    this.transmit(link, from.idx, () => {
      if (!link.open || !to.alive) return
      this.run(to, () => {
        to.received++
        this.currentHop = hop
        to.membership.receive(from.id, msg)
        this.currentHop = undefined
      })
    })
  }

  /** Delivers in order per direction; held while a partition separates the ends. */
  private transmit(link: SimLink, from: number, deliver: () => void): void {
    const to = link.a === from ? link.b : link.a
    if (this.blocked(from, to)) {
      this.held.push({ link, from, deliver })
      return
    }
    const dir = link.dirs[link.a === from ? 0 : 1]
    const at = Math.max(this.clock.now + this.delay(), dir.last + 0.001)
    dir.last = at
    this.clock.schedule(at, deliver)
  }

  private connect(from: SimNode, to: SimNode): void {
    if (this.linkBetween(from, to) !== undefined) {
      this.clock.schedule(this.clock.now, () => this.run(from, () => from.membership.linkUp(to.id)))
      return
    }
    // A TCP handshake, then the encrypted handshake: about three one-way trips.
    const setup = this.delay() + this.delay() + this.delay()
    const unreachable = this.blocked(from.idx, to.idx) || to.frozen
    if (!to.alive && !unreachable) {
      // Refused at once: nobody listens on the port any more.
      this.clock.schedule(this.clock.now + 2 * this.latencyMs, () => this.run(from, () => from.membership.connectFailed(to.id)))
      return
    }
    if (unreachable) {
      this.clock.schedule(this.clock.now + 5000, () => this.run(from, () => from.membership.connectFailed(to.id)))
      return
    }
    this.clock.schedule(this.clock.now + setup, () => {
      if (!from.alive) return
      if (!to.alive || to.frozen || this.blocked(from.idx, to.idx)) {
        this.run(from, () => from.membership.connectFailed(to.id))
        return
      }
      const link = this.open(from.idx, to.idx)
      this.run(to, () => { if (link.open) to.membership.linkUp(from.id) })
      this.run(from, () => { if (link.open) from.membership.linkUp(to.id) })
    })
  }

  /** Opens (or finds) the link between two relays. */
  open(a: number, b: number): SimLink {
    const k = this.key(a, b)
    const existing = this.links.get(k)
    if (existing?.open === true) return existing
    const link: SimLink = { a, b, open: true, dirs: [{ last: 0 }, { last: 0 }] }
    this.links.set(k, link)
    this.linksOf[a]!.add(link)
    this.linksOf[b]!.add(link)
    return link
  }

  private close(link: SimLink, reachesFrom: number | undefined): void {
    if (!link.open) return
    link.open = false
    this.links.delete(this.key(link.a, link.b))
    this.linksOf[link.a]!.delete(link)
    this.linksOf[link.b]!.delete(link)
    for (const [self, other] of [[link.a, link.b], [link.b, link.a]] as const) {
      const node = this.nodes[self]!
      if (!node.alive) continue
      // The closing side knows at once; the other when the FIN or RST arrives (not across a partition).
      if (self === reachesFrom) {
        this.run(node, () => node.membership.linkDown(this.nodes[other]!.id))
      } else if (!this.blocked(self, other)) {
        this.clock.schedule(this.clock.now + this.delay(), () => this.run(node, () => node.membership.linkDown(this.nodes[other]!.id)))
      }
    }
  }

  private release(from: SimNode, to: SimNode): void {
    const link = this.linkBetween(from, to)
    if (link === undefined) return
    if (from.membership.holds(to.id) || (to.alive && to.membership.holds(from.id))) return
    this.close(link, from.idx)
  }

  // ---- faults -----------------------------------------------------------------------

  /** SIGKILL: the process is gone; the kernel resets its connections. */
  kill(node: SimNode): void {
    if (!node.alive) return
    node.alive = false
    node.membership.stop()
    node.backlog = []
    for (const link of [...this.linksOf[node.idx]!]) this.close(link, undefined)
  }

  freeze(node: SimNode): void {
    node.frozen = true
  }

  thaw(node: SimNode): void {
    node.frozen = false
    const work = node.backlog
    node.backlog = []
    for (const fn of work) this.run(node, fn)
  }

  /** Separates `group` from everyone else (both ways); bytes in flight wait for the heal. */
  partition(group: readonly SimNode[]): void {
    this.side = new Set(group.map((n) => n.idx))
  }

  heal(): void {
    this.side = undefined
    const held = this.held
    this.held = []
    // TCP retransmits what was held, in order, within about one retransmission timeout.
    for (const h of held) if (h.link.open) this.transmit(h.link, h.from, h.deliver)
  }

  /** How many live relays (but `node` itself) have `node` in their view. */
  viewersOf(node: SimNode): number {
    let k = 0
    for (const o of this.nodes) if (o !== node && o.alive && o.membership.store.inView(node.id)) k++
    return k
  }

  /** Live relays whose view is exactly the set of live relays. */
  completeViews(): number {
    const live = this.nodes.filter((n) => n.alive)
    let k = 0
    for (const o of live) {
      let ok = true
      for (const n of this.nodes) {
        if (n === o) continue
        if (o.membership.store.inView(n.id) !== n.alive) { ok = false; break }
      }
      if (ok) k++
    }
    return k
  }

  runFor(ms: number, stop?: () => boolean): void {
    this.clock.runUntil(this.clock.now + ms, stop)
  }

  /** Runs until `cond` holds (checked every `stepMs`) or `maxMs` passes; returns the time taken or -1. */
  runUntil(cond: () => boolean, maxMs: number, stepMs = 50): number {
    const start = this.clock.now
    while (this.clock.now - start < maxMs) {
      if (cond()) return this.clock.now - start
      this.runFor(stepMs)
    }
    return cond() ? this.clock.now - start : -1
  }

  /** Schedules `fn` at now + ms. */
  at(ms: number, fn: () => void): SimEvent {
    return this.clock.schedule(this.clock.now + ms, fn)
  }
}
