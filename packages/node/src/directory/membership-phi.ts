/**
 * The phi-accrual failure detector (Hayashibara et al. 2004, as Akka and Cassandra use it):
 * instead of a fixed timeout, it learns the distribution of heartbeat inter-arrival times from
 * one neighbor and reports how unlikely the current silence is, as
 * phi = -log10(P(a heartbeat arrives later than now)). A slow or jittery link widens the
 * learned distribution, so the same threshold tolerates it; a clean link is judged quickly.
 * I/O-free: the caller passes the times.
 */
export interface PhiInit {
  /** Samples kept (a sliding window). */
  windowSize?: number
  /** Floor of the standard deviation, so a very regular link is not judged on jitter alone. */
  minStdMs?: number
  /** Added to the mean: a pause this long is considered normal (GC, a busy event loop). */
  acceptablePauseMs?: number
  /** The first interval assumed before any sample (the heartbeat interval). */
  firstIntervalMs: number
}

export class PhiAccrual {
  private readonly samples: Float64Array
  private count = 0
  private next = 0
  private sum = 0
  private sumSq = 0
  private last = -1
  private readonly minStd: number
  private readonly pause: number

  constructor(init: PhiInit) {
    this.samples = new Float64Array(init.windowSize ?? 100)
    this.minStd = init.minStdMs ?? 150
    this.pause = init.acceptablePauseMs ?? 500
    // Seed with the expected interval (and a wide spread) so a new neighbor is judged fairly.
    const first = init.firstIntervalMs
    this.add(first - first / 4)
    this.add(first + first / 4)
  }

  /** A heartbeat arrived at `now` (ms). */
  heartbeat(now: number): void {
    if (this.last >= 0) this.add(now - this.last)
    this.last = now
  }

  /** One sample of the distribution (e.g. a probe's round trip), outside the heartbeat clock. */
  sample(value: number): void {
    this.add(value)
  }

  /** Forget the last arrival (e.g. our own event loop was stalled): silence restarts at `now`. */
  reset(now: number): void {
    this.last = now
  }

  get mean(): number {
    return this.sum / this.count
  }

  get std(): number {
    const m = this.mean
    return Math.sqrt(Math.max(0, this.sumSq / this.count - m * m))
  }

  /** Suspicion level for a silence since the last heartbeat; `scale` stretches the pause (local health). */
  phi(now: number, scale = 1): number {
    return this.last < 0 ? 0 : this.phiFor(now - this.last, scale)
  }

  /** Suspicion level for a silence of `elapsed` ms. */
  phiFor(elapsed: number, scale = 1): number {
    const mean = this.mean + this.pause * scale
    const std = Math.max(this.std, this.minStd)
    // Logistic approximation of the normal CDF (as in Akka's PhiAccrualFailureDetector).
    const y = (elapsed - mean) / std
    const e = Math.exp(-y * (1.5976 + 0.070566 * y * y))
    const pLater = elapsed > mean ? e / (1 + e) : 1 - 1 / (1 + e)
    return pLater <= 0 ? Infinity : -Math.log10(pLater)
  }

  private add(interval: number): void {
    if (!Number.isFinite(interval) || interval < 0) return
    const n = this.samples.length
    if (this.count === n) {
      const old = this.samples[this.next]!
      this.sum -= old
      this.sumSq -= old * old
    } else {
      this.count++
    }
    this.samples[this.next] = interval
    this.next = (this.next + 1) % n
    this.sum += interval
    this.sumSq += interval * interval
  }
}
