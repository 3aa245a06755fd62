import type { ControlMessage, MembershipConfig, NodeId } from './membership-types.js'

/** What suspicion handling needs from the engine. */
export interface ProbeHost {
  readonly config: MembershipConfig
  now(): number
  random(): number
  /** Our health multiplier (1 = healthy) and the longest retransmission timeout of a neighbor (ms). */
  slowness(): { scale: number; rto: number }
  linked(peer: NodeId): boolean
  inView(node: NodeId): boolean
  /** Is `node` our active neighbor with a link (so we can probe it)? */
  watching(node: NodeId): boolean
  /** How many active neighbors we have. */
  neighborCount(): number
  /** How long a neighbor's answer may take: its retransmission timeout (srtt + 4 rttvar, ms), or -1. */
  rtoOf(node: NodeId): number
  send(peer: NodeId, msg: ControlMessage): void
  connect(peer: NodeId): void
  /** No longer needed for a probe. */
  release(peer: NodeId): void
  declareDead(node: NodeId): void
  cleared(node: NodeId, refuted: boolean): void
}

/** A suspicion we raised: we run the probes and the verdict. */
interface Suspicion {
  readonly id: number
  readonly start: number
  /** The connection was lost and could not be reopened (versus: silence). */
  readonly strong: boolean
  /** Nobody else to ask: the suspect is our only neighbor and we know none of its others (two relays). */
  readonly lone: boolean
  /** Neighbors of the suspect asked to probe it, and those that got no answer either. */
  readonly asked: Set<NodeId>
  readonly silent: Set<NodeId>
}

/** A probe we run for another relay. */
interface Relayed {
  readonly requester: NodeId
  readonly node: NodeId
  readonly reqSeq: number
  /** When the request reached us: a frame heard in that same instant may predate it. */
  readonly asked: number
  readonly deadline: number
}

/**
 * Suspicion as SWIM does it, adapted to a partial view. A relay that stops hearing a neighbor
 * (or cannot reopen a lost connection to it) does not tell the network: it asks up to k of
 * the suspect's own neighbors (their ids come with the suspect's pings) to probe it
 * (SWIM's ping-req). If the suspect answers any of them, that is its own word that it lives,
 * and the suspicion ends there — a slow or lossy link between two relays costs a handful of
 * messages near them, never a flood. If nobody hears it, every silent answer confirms, and
 * (Lifeguard) the more confirmations, the sooner the verdict; a lone suspicion waits longest.
 * Only a verdict — dead — is disseminated to every relay.
 */
export class Suspicions {
  private readonly host: ProbeHost
  private readonly mine = new Map<NodeId, Suspicion>()
  private readonly relayed = new Map<number, Relayed>()
  /** Probe requests waiting for a link to the relay that should run them. */
  private readonly waiting = new Map<NodeId, ControlMessage[]>()
  private nextId = 1
  private nextRelay = 1
  falsePositives = 0
  raised = 0

  constructor(host: ProbeHost) {
    this.host = host
  }

  has(node: NodeId): boolean {
    return this.mine.has(node)
  }

  get size(): number {
    return this.mine.size
  }

  /** Start suspecting `node`; `probers` are its other neighbors (who can check it for us). */
  suspect(node: NodeId, strong: boolean, probers: readonly NodeId[], self: NodeId): void {
    if (this.mine.has(node) || !this.host.inView(node)) return
    const pool = probers.filter((p) => p !== self && p !== node && this.host.inView(p))
    const lone = pool.length === 0 && this.host.neighborCount() <= 1
    const s: Suspicion = { id: this.nextId++, start: this.host.now(), strong, lone, asked: new Set(), silent: new Set() }
    this.mine.set(node, s)
    this.raised++
    const k = Math.min(this.host.config.indirectProbes, pool.length)
    for (let j = 0; j < k; j++) {
      const pick = pool.splice(Math.floor(this.host.random() * pool.length), 1)[0]!
      s.asked.add(pick)
      const req: ControlMessage = { t: 'probe-req', node, seq: s.id }
      if (this.host.linked(pick)) {
        this.host.send(pick, req)
      } else {
        const list = this.waiting.get(pick) ?? []
        list.push(req)
        this.waiting.set(pick, list)
        this.host.connect(pick)
      }
    }
  }

  /**
   * We heard from `node` ourselves: our suspicion was wrong (the link, not the relay). And a
   * probe we run for someone else is answered by any frame from the suspect, not only by the
   * probe's ack: on a lossy link the ack may sit behind a retransmission for seconds while
   * other frames (sent before it, on other streams) arrive — each says the relay lives, and
   * only frames sent after the probe request reached us are counted.
   */
  heard(node: NodeId): void {
    if (this.relayed.size > 0) this.answerAlive(node)
    const s = this.mine.get(node)
    if (s === undefined || this.host.now() === s.start) return
    this.end(node, true)
  }

  /** `node` left the view (declared dead by someone): nothing left to decide. */
  forget(node: NodeId): void {
    if (this.mine.has(node)) this.end(node, false)
  }

  private end(node: NodeId, refuted: boolean): void {
    const s = this.mine.get(node)
    if (s === undefined) return
    this.mine.delete(node)
    if (refuted) this.falsePositives++
    for (const p of s.asked) if (!this.waiting.has(p)) this.host.release(p)
    this.host.cleared(node, refuted)
  }

  /** A link came up: send the probe requests that waited for it. */
  linkUp(peer: NodeId): void {
    const list = this.waiting.get(peer)
    if (list === undefined) return
    this.waiting.delete(peer)
    for (const m of list) this.host.send(peer, m)
  }

  /** The link to a prober could not be opened: it will not answer. */
  connectFailed(peer: NodeId): void {
    this.waiting.delete(peer)
  }

  /** Whether we still need a link to `peer` for probing. */
  holds(peer: NodeId): boolean {
    if (this.waiting.has(peer)) return true
    for (const s of this.mine.values()) if (s.asked.has(peer)) return true
    for (const r of this.relayed.values()) if (r.requester === peer || r.node === peer) return true
    return false
  }

  // ---- messages ---------------------------------------------------------------------

  /**
   * Someone asks us to probe `node`: we do if it is our neighbor. If it is not (any more), we
   * say nothing: "I could not ask" is no evidence that it is silent, and counting it as a
   * confirmation would shorten the verdict's wait on a hunch.
   */
  onProbeReq(from: NodeId, node: NodeId, reqSeq: number): void {
    if (!this.host.watching(node)) return
    const seq = this.nextRelay++
    const rto = this.host.rtoOf(node)
    const { scale } = this.host.slowness()
    // Long enough for a lost segment's retransmissions on each way (a lossy WAN link, where
    // the retransmission timeout has grown with the stalls seen): a late "silent" costs only
    // time; a hasty one can kill a live relay.
    const wait = Math.max(this.host.config.probeReqMinMs, 4 * Math.max(rto, 0)) * scale
    const now = this.host.now()
    this.relayed.set(seq, { requester: from, node, reqSeq, asked: now, deadline: now + wait })
    this.host.send(node, { t: 'probe', seq })
  }

  onProbeAck(from: NodeId, seq: number): void {
    const r = this.relayed.get(seq)
    if (r === undefined || r.node !== from) return
    this.answer(seq, r, true)
  }

  /** Every probe we run of `node` is answered: it lives. */
  private answerAlive(node: NodeId): void {
    const now = this.host.now()
    for (const [seq, r] of this.relayed) if (r.node === node && r.asked !== now) this.answer(seq, r, true)
  }

  private answer(seq: number, r: Relayed, alive: boolean): void {
    this.relayed.delete(seq)
    this.host.send(r.requester, { t: 'probe-reply', node: r.node, seq: r.reqSeq, alive })
  }

  onProbeReply(from: NodeId, node: NodeId, seq: number, alive: boolean): void {
    const s = this.mine.get(node)
    if (s === undefined || s.id !== seq || !s.asked.has(from)) return
    if (alive) this.end(node, true)
    else s.silent.add(from)
  }

  // ---- time -------------------------------------------------------------------------

  /** Lifeguard: the fewer independent confirmations, the longer the wait before a verdict. */
  timeout(node: NodeId, s: Suspicion): number {
    const slow = this.host.slowness()
    const c = this.host.config
    // Four of the suspect's retransmission timeouts on top (the longest neighbor's if we never
    // timed it): on a LAN a few ms; on a lossy WAN the seconds a TCP stream can stand still
    // while a segment is retransmitted, twice, without anything being wrong with the relay.
    const own = this.host.rtoOf(node)
    const min = (s.strong ? c.suspicionMinStrongMs : c.suspicionMinWeakMs) * slow.scale + 4 * (own >= 0 ? own : slow.rto)
    if (s.strong) return min
    const k = s.asked.size
    const got = s.silent.size
    const max = min * c.suspicionMaxMultiplier
    // Nobody at all to ask (two relays): only our own silence speaks, and a lone suspicion
    // waits longest. (With other neighbors but none of the suspect's known, as when its list
    // has not reached us yet, the shortest wait stands, as before.)
    if (k === 0) return s.lone ? max : min
    if (got >= k) return min
    return Math.max(min, max - ((max - min) * Math.log(got + 1)) / Math.log(k + 1))
  }

  tick(now: number): void {
    for (const [seq, r] of this.relayed) {
      if (now >= r.deadline) this.answer(seq, r, false)
    }
    for (const [node, s] of this.mine) {
      if (!this.host.inView(node)) this.end(node, false)
      else if (now - s.start >= this.timeout(node, s)) {
        this.end(node, false)
        this.host.declareDead(node)
      }
    }
  }

  /** Our own event loop stalled: restart every clock (what we missed is not evidence). */
  restart(now: number): void {
    for (const [node, s] of this.mine) this.mine.set(node, { ...s, start: now })
    for (const [seq, r] of this.relayed) this.relayed.set(seq, { ...r, deadline: Math.max(r.deadline, now + 500) })
  }
}
