/**
 * One direction of a pressured link as pure arithmetic: given a segment handed to the link at
 * time `now`, when does the receiver get it? No sockets and no clock of its own, so every
 * rule is tested in memory on virtual time.
 *
 *   depart  = when the token bucket has the segment's bytes (bandwidth)
 *   arrive  = depart + a normal delay (latency ± jitter, AR(1)-correlated, never below 0)
 *             + for a lost segment, its retransmission timeouts (rto, 2rto, 4rto, ... while
 *               each retransmission is lost again with the same probability)
 *   deliver = max(arrive, the previous segment's delivery [+ the slice gap])
 *
 * The last line is TCP's in-order delivery: a held-back segment delays everything behind it,
 * which is exactly how loss and jitter feel to an application above TCP.
 */
import { MAX_RETRANSMITS, MAX_RTO_MS } from './constants.js'
import { CorrelatedNormal, NormalSource, uniformInt, type Random } from './random.js'
import type { ResolvedLink } from './settings.js'

export interface Scheduled {
  /** Delivery time (same clock as `now`). */
  at: number
  /** How many times the segment was lost before it got through (0: not held back). */
  retransmits: number
}

export class LinkModel {
  private settings: ResolvedLink
  private readonly random: Random
  private readonly delayNoise: CorrelatedNormal
  /** Token bucket as GCRA: the time at which the bucket is full again. */
  private fullAt = -Infinity
  private lastAt = -Infinity

  constructor(settings: ResolvedLink, random: Random) {
    this.settings = settings
    this.random = random
    this.delayNoise = new CorrelatedNormal(new NormalSource(random))
  }

  configure(settings: ResolvedLink): void {
    this.settings = settings
  }

  get current(): ResolvedLink {
    return this.settings
  }

  /** True when every byte may pass as it comes (one segment per read, no per-segment draw). */
  get transparent(): boolean {
    const s = this.settings
    return s.jitterMs === 0 && s.loss === 0 && s.bandwidth === Infinity && s.sliceBytes === 0
  }

  /** How many of `available` bytes the next segment carries. */
  nextSize(available: number): number {
    const s = this.settings
    if (s.sliceBytes > 0) return Math.min(available, uniformInt(this.random, 1, s.sliceBytes))
    if (this.transparent) return available
    return Math.min(available, s.segmentBytes)
  }

  /** Schedules a segment of `bytes` handed to the link at `now`. Calls must come in stream order. */
  schedule(bytes: number, now: number): Scheduled {
    const s = this.settings
    let depart = now
    if (s.bandwidth !== Infinity) {
      const perMs = s.bandwidth / 1000
      // The segment may leave once the bucket holds its bytes: the bucket is short of
      // (fullAt - t) * rate bytes at time t, so it has `bytes` from fullAt - (burst - bytes) / rate.
      depart = Math.max(now, this.fullAt - (s.burstBytes - bytes) / perMs)
      this.fullAt = Math.max(this.fullAt, depart) + bytes / perMs
    }
    let arrive = depart + s.latencyMs
    if (s.jitterMs > 0) arrive = depart + Math.max(0, s.latencyMs + s.jitterMs * this.delayNoise.next(s.correlation))
    let retransmits = 0
    if (s.loss > 0) {
      while (retransmits < MAX_RETRANSMITS && this.random() < s.loss) {
        arrive += Math.min(s.rtoMs * 2 ** retransmits, MAX_RTO_MS)
        retransmits++
      }
    }
    const at = Math.max(arrive, this.lastAt + (s.sliceBytes > 0 ? s.sliceGapMs : 0))
    this.lastAt = at
    return { at, retransmits }
  }

  /**
   * Forgets the bucket and the delivery order, as when a partition heals: whatever was held
   * is sent again from `now` and goes through bandwidth, delay and loss once more.
   */
  restart(now: number): void {
    this.fullAt = now
    this.lastAt = now
  }
}
