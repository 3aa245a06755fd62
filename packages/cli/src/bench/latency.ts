import { LATENCY_SAMPLES } from './plan.js'

/**
 * Latencies in bounded memory: every one up to LATENCY_SAMPLES, then a uniform sample of all
 * of them (reservoir sampling), and the exact maximum. Quantiles of a sample of 100,000 are
 * within a fraction of a percent of the true ones.
 */
export class LatencyRecorder {
  private readonly samples = new Float64Array(LATENCY_SAMPLES)
  private seen = 0
  maxUs = 0

  add(us: number): void {
    if (us > this.maxUs) this.maxUs = us
    const i = this.seen++
    if (i < LATENCY_SAMPLES) this.samples[i] = us
    else {
      const j = Math.floor(Math.random() * (i + 1))
      if (j < LATENCY_SAMPLES) this.samples[j] = us
    }
  }

  /** The samples kept (a copy, for postMessage). */
  take(): Float64Array {
    return this.samples.slice(0, Math.min(this.seen, LATENCY_SAMPLES))
  }
}

/** The q-quantile (0..1) of sorted samples (nearest rank); undefined when empty. */
export function quantile(sorted: Float64Array, q: number): number | undefined {
  if (sorted.length === 0) return undefined
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]
}

/** Samples of several workers, sorted. Each worker's sample stands for its own count (weights are close: workers share the load). */
export function merged(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out.sort()
}
