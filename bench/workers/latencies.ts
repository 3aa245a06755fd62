/** Percentiles of a worker's measured latencies (exact: every sample is kept and sorted). */

export interface LatencySummary { p50: number; p90: number; p99: number; p999: number; max: number; mean: number }

/** Summarizes µs samples (sorts `us` in place); all zero when there are none. */
export function summarize(us: number[]): LatencySummary {
  us.sort((a, b) => a - b)
  const pct = (p: number): number => (us.length === 0 ? 0 : us[Math.min(us.length - 1, Math.floor(p * us.length))]!)
  let sum = 0
  for (const x of us) sum += x
  return { p50: pct(0.5), p90: pct(0.9), p99: pct(0.99), p999: pct(0.999), max: us[us.length - 1] ?? 0, mean: sum / Math.max(1, us.length) }
}
