/**
 * Time, injected: every part of the relay that waits (request deadlines, directory expiry,
 * gossip intervals, stall checks) takes a Clock, so a test drives time with ManualClock
 * instead of sleeping.
 */
export interface Timer {
  /** Lets the process exit while the timer is pending (background timers). */
  unref?(): unknown
}

export interface Clock {
  now(): number
  /** Milliseconds with sub-millisecond resolution, for measuring latencies (default: now()). */
  precise?(): number
  setTimeout(fn: () => void, ms: number): Timer
  clearTimeout(timer: Timer | undefined): void
  setInterval(fn: () => void, ms: number): Timer
  clearInterval(timer: Timer | undefined): void
}

type NodeTimer = ReturnType<typeof setTimeout>

export const systemClock: Clock = {
  now: () => Date.now(),
  precise: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (t) => clearTimeout(t as NodeTimer | undefined),
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (t) => clearInterval(t as NodeTimer | undefined),
}

interface Scheduled extends Timer {
  at: number
  seq: number
  every: number | undefined
  fn: () => void
  cancelled: boolean
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer due by then, in time
 * order (ties in the order they were set), with now() at each timer's due time.
 */
export class ManualClock implements Clock {
  private time: number
  private seq = 0
  private timers: Scheduled[] = []

  constructor(start = 1_700_000_000_000) {
    this.time = start
  }

  now(): number {
    return this.time
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, undefined)
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, Math.max(1, ms))
  }

  clearTimeout(timer: Timer | undefined): void {
    if (timer !== undefined) (timer as Scheduled).cancelled = true
  }

  clearInterval(timer: Timer | undefined): void {
    this.clearTimeout(timer)
  }

  /** Timers still pending. */
  get pending(): number {
    return this.timers.filter((t) => !t.cancelled).length
  }

  /** Moves time forward by `ms`, running what falls due on the way. */
  advance(ms: number): void {
    const end = this.time + ms
    for (;;) {
      this.timers = this.timers.filter((t) => !t.cancelled)
      let next: Scheduled | undefined
      for (const t of this.timers) if (t.at <= end && (next === undefined || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = t
      if (next === undefined) break
      this.time = Math.max(this.time, next.at)
      if (next.every !== undefined) {
        next.at += next.every
        next.seq = this.seq++
      } else {
        next.cancelled = true
      }
      next.fn()
    }
    this.time = end
  }

  private schedule(fn: () => void, ms: number, every: number | undefined): Scheduled {
    const t: Scheduled = { at: this.time + Math.max(0, ms), seq: this.seq++, every, fn, cancelled: false }
    this.timers.push(t)
    return t
  }
}
