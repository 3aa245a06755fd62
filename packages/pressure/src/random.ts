/**
 * Randomness as a plain function, so a test (or `--seed`) can make every delay, loss and
 * slice reproducible: pass `seededRandom(n)` wherever a `Random` is taken.
 */

/** Uniform in [0, 1). */
export type Random = () => number

/** mulberry32: small, fast, good enough for simulation (not for cryptography). */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Standard normal draws (Box-Muller; the second value of each pair is kept for the next call). */
export class NormalSource {
  private spare: number | undefined
  constructor(private readonly random: Random) {}

  next(): number {
    if (this.spare !== undefined) {
      const s = this.spare
      this.spare = undefined
      return s
    }
    let u = 0
    while (u === 0) u = this.random()
    const v = this.random()
    const r = Math.sqrt(-2 * Math.log(u))
    this.spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

/**
 * Correlated standard normals: z' = rho*z + sqrt(1-rho^2)*e (an AR(1) process). Unlike netem's
 * "correlation", which blends with a uniform draw and shrinks the spread, every draw stays
 * N(0, 1) whatever rho is, so the configured jitter is the real standard deviation.
 */
export class CorrelatedNormal {
  private z = 0
  private started = false
  constructor(private readonly normal: NormalSource) {}

  next(rho: number): number {
    const e = this.normal.next()
    this.z = this.started ? rho * this.z + Math.sqrt(1 - rho * rho) * e : e
    this.started = true
    return this.z
  }
}

/** A whole number in [min, max]. */
export function uniformInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1))
}
