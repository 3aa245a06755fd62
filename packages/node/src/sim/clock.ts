/**
 * A virtual clock for discrete-event simulation: events run in time order (ties in the order
 * they were scheduled); time jumps from one event to the next, so a simulated minute of ten
 * thousand relays takes as long as its events take to run, not a minute.
 */
export interface SimEvent {
  at: number
  seq: number
  fn: (() => void) | undefined
}

export class SimClock {
  private heap: SimEvent[] = []
  private seq = 0
  now: number
  /** Events run so far. */
  executed = 0

  constructor(start: number) {
    this.now = start
  }

  schedule(at: number, fn: () => void): SimEvent {
    const ev: SimEvent = { at: Math.max(at, this.now), seq: this.seq++, fn }
    const h = this.heap
    h.push(ev)
    let k = h.length - 1
    while (k > 0) {
      const p = (k - 1) >> 1
      if (!less(h[k]!, h[p]!)) break
      ;[h[k], h[p]] = [h[p]!, h[k]!]
      k = p
    }
    return ev
  }

  cancel(ev: SimEvent): void {
    ev.fn = undefined
  }

  private pop(): SimEvent | undefined {
    const h = this.heap
    const top = h[0]
    if (top === undefined) return undefined
    const last = h.pop()!
    if (h.length > 0) {
      h[0] = last
      let k = 0
      for (;;) {
        const l = 2 * k + 1
        const r = l + 1
        let m = k
        if (l < h.length && less(h[l]!, h[m]!)) m = l
        if (r < h.length && less(h[r]!, h[m]!)) m = r
        if (m === k) break
        ;[h[k], h[m]] = [h[m]!, h[k]!]
        k = m
      }
    }
    return top
  }

  /** Runs every event up to `until` (inclusive); time ends at `until`. */
  runUntil(until: number, stop?: () => boolean): void {
    for (;;) {
      const top = this.heap[0]
      if (top === undefined || top.at > until) break
      this.pop()
      this.now = top.at
      const fn = top.fn
      if (fn === undefined) continue
      top.fn = undefined
      this.executed++
      fn()
      if (stop?.() === true) return
    }
    this.now = Math.max(this.now, until)
  }

  get pending(): number {
    return this.heap.length
  }
}

function less(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** A small seeded PRNG (mulberry32), so a simulation is repeatable. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A normally distributed sample (Box-Muller). */
export function normal(random: () => number, mean: number, std: number): number {
  if (std <= 0) return mean
  const u = Math.max(random(), 1e-12)
  const v = random()
  return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}
