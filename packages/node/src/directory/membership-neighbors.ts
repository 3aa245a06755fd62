import { PhiAccrual } from './membership-phi.js'
import type { MembershipConfig, NodeId } from './membership-types.js'

/**
 * One neighbor of the partial view, as its monitor sees it: when we last heard from it (any
 * frame counts), the probe we have out to it, and what its round trips look like — a
 * phi-accrual model of them, so "too late" adapts to the link (a lossy WAN link's retransmits
 * widen it; a LAN's answers keep it tight).
 */
export class Neighbor {
  readonly peer: NodeId
  /** 'asking': we asked to be neighbors and wait for the answer. */
  state: 'asking' | 'active'
  since: number
  lastHeard: number
  private seq = 0
  /** The probe out to it (0: none), and when it left. */
  probeSeq = 0
  probeSentAt = 0
  /** Smoothed round trip (ms) and its variation, as TCP computes them; -1 before the first answer. */
  srtt = -1
  rttvar = 0
  /** The neighbor's own neighbors, from its pings: who can probe it for us. */
  theirNeighbors: readonly NodeId[] = []
  /** The neighbor's own neighbor count. */
  degree = 2
  /** We suspect it (a probe round is running). */
  suspected = false
  /** The distribution of its probes' round trips. */
  readonly rtt: PhiAccrual

  constructor(peer: NodeId, state: 'asking' | 'active', now: number, config: MembershipConfig) {
    this.peer = peer
    this.state = state
    this.since = now
    this.lastHeard = now
    this.rtt = new PhiAccrual({
      firstIntervalMs: config.probeFirstRttMs,
      windowSize: config.phiWindow,
      minStdMs: config.phiMinStdMs,
      acceptablePauseMs: config.phiPauseMs,
    })
  }

  /** Any frame from the neighbor is a sign of life (and answers the probe out to it). */
  heard(now: number): void {
    this.lastHeard = now
  }

  /** Its ping arrived. */
  pinged(now: number, msg: { degree: number; neighbors?: readonly NodeId[] | undefined }): void {
    this.lastHeard = now
    this.degree = msg.degree
    if (msg.neighbors !== undefined) this.theirNeighbors = msg.neighbors
  }

  /** A probe leaves now: its sequence number. */
  probe(now: number): number {
    this.probeSeq = ++this.seq
    this.probeSentAt = now
    return this.probeSeq
  }

  /** Its pong arrived: a round-trip sample. */
  ponged(now: number, seq: number): void {
    this.lastHeard = now
    if (seq !== this.probeSeq || this.probeSeq === 0) return
    const rtt = now - this.probeSentAt
    this.probeSeq = 0
    this.rtt.sample(rtt)
    if (this.srtt < 0) {
      this.srtt = rtt
      this.rttvar = rtt / 2
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt)
      this.srtt = 0.875 * this.srtt + 0.125 * rtt
    }
  }

  /**
   * How long an answer may take before its lateness means something: TCP's retransmission
   * timeout, srtt + 4 x rttvar (-1 before the first answer). On a LAN that is the round trip;
   * on a lossy WAN it grows with the retransmission stalls the answers have met.
   */
  rto(): number {
    return this.srtt < 0 ? -1 : this.srtt + 4 * this.rttvar
  }

  /** How unlikely it is that the probe out to it is still unanswered (0: none out, or answered by any frame). */
  phi(now: number, scale: number): number {
    if (this.probeSeq === 0 || this.lastHeard >= this.probeSentAt) return 0
    return this.rtt.phiFor(now - this.probeSentAt, scale)
  }

  /** Our own event loop stalled: the probe's clock restarts. */
  restart(now: number): void {
    this.lastHeard = now
    if (this.probeSeq !== 0) this.probeSentAt = now
  }
}
