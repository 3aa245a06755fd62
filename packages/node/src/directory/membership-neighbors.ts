import { PhiAccrual } from './membership-phi.js'
import type { MembershipConfig, NodeId } from './membership-types.js'

const SENT_HISTORY = 16

/** One neighbor of the partial view, as its monitor sees it. */
export class Neighbor {
  readonly peer: NodeId
  /** 'asking': we asked to be neighbors and wait for the answer. */
  state: 'asking' | 'active'
  since: number
  lastHeard: number
  lastPingAt = -Infinity
  private seq = 0
  /** When our last pings left (by seq modulo the history), for the round trip. */
  private readonly sentAt = new Float64Array(SENT_HISTORY)
  /** Its last ping, and when it came (echoed in ours). */
  private lastSeqIn = 0
  private lastSeqInAt = 0
  /** Smoothed round trip (ms) and its variation, as TCP computes them; -1 before the first echo. */
  srtt = -1
  rttvar = 0
  /** The neighbor's own neighbors, from its pings: who can probe it for us. */
  theirNeighbors: readonly NodeId[] = []
  /** The neighbor's own neighbor count. */
  degree = 2
  /** We suspect it (a probe round is running). */
  suspected = false
  readonly detector: PhiAccrual

  constructor(peer: NodeId, state: 'asking' | 'active', now: number, config: MembershipConfig) {
    this.peer = peer
    this.state = state
    this.since = now
    this.lastHeard = now
    this.detector = new PhiAccrual({
      firstIntervalMs: config.pingIntervalMs,
      minStdMs: config.phiMinStdMs,
      acceptablePauseMs: config.phiPauseMs,
    })
    this.detector.reset(now)
  }

  /** Any frame from the neighbor is a sign of life. */
  heard(now: number): void {
    this.lastHeard = now
  }

  /** Its ping arrived: the heartbeat the detector learns from, and an echo of ours. */
  pinged(now: number, msg: { seq: number; echo: number; held: number; degree: number; neighbors?: readonly NodeId[] | undefined }): void {
    this.lastHeard = now
    this.degree = msg.degree
    if (msg.neighbors !== undefined) this.theirNeighbors = msg.neighbors
    this.detector.heartbeat(now)
    this.lastSeqIn = msg.seq
    this.lastSeqInAt = now
    if (msg.echo > 0 && msg.echo <= this.seq && this.seq - msg.echo < SENT_HISTORY) {
      const rtt = Math.max(0, now - this.sentAt[msg.echo % SENT_HISTORY]! - msg.held)
      if (this.srtt < 0) {
        this.srtt = rtt
        this.rttvar = rtt / 2
      } else {
        this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - rtt)
        this.srtt = 0.875 * this.srtt + 0.125 * rtt
      }
    }
  }

  /** The fields of our next ping to it. */
  nextPing(now: number): { seq: number; echo: number; held: number } {
    this.lastPingAt = now
    const seq = ++this.seq
    this.sentAt[seq % SENT_HISTORY] = now
    return { seq, echo: this.lastSeqIn, held: this.lastSeqIn > 0 ? Math.round(now - this.lastSeqInAt) : 0 }
  }

  /** How unlikely the current silence is (phi); `scale` stretches the tolerated pause. */
  phi(now: number, scale: number): number {
    // The distribution is learnt from pings; silence counts from the last frame of any kind.
    return this.detector.phiFor(now - this.lastHeard, scale)
  }
}
