/** Small helpers shared by the pattern tests (requests, pubsub, tunnels). */
import type { Connection, Tunnel } from '@herald/client'

/** A promise with its resolve/reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (v: T) => void
  reject: (e: unknown) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (v: T) => void
  let reject!: (e: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** Counts hits; `done` resolves when the count reaches `n`. */
export function counter(n: number): { hit(): void; readonly count: number; done: Promise<void> } {
  const d = deferred()
  let count = 0
  if (n === 0) d.resolve()
  return {
    hit() { if (++count === n) d.resolve() },
    get count() { return count },
    done: d.promise,
  }
}

/** The relay's own status (`$herald.status`), as `herald status --json` prints it. */
export interface RelayStatusLite {
  clients: number
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: Record<string, number>
}

export async function relayStatus(conn: Connection): Promise<RelayStatusLite> {
  const reply = await conn.request('$herald.status', '', { timeoutMs: 5000 })
  return JSON.parse(Buffer.from(reply).toString('utf8')) as RelayStatusLite
}

/** A small deterministic PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return (t ^ (t >>> 14)) >>> 0
  }
}

/** Fills `n` bytes from the generator (4 bytes per draw). */
export function randomBytesFrom(next: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  const words = n >>> 2
  const view = new DataView(out.buffer)
  for (let i = 0; i < words; i++) view.setUint32(i * 4, next(), true)
  for (let i = words * 4; i < n; i++) out[i] = next() & 0xff
  return out
}

/** Encodes a sequence number (and optional padding) as a payload; `seqOf` reads it back. */
export function seqPayload(seq: number, size = 4): Uint8Array {
  const b = new Uint8Array(Math.max(4, size))
  new DataView(b.buffer).setUint32(0, seq, true)
  return b
}

export function seqOf(b: Uint8Array): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true)
}

export const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8')

/**
 * Sends `n` seeded random messages (sizes from `sizeOf`) through `tun` to an echo member while
 * reading the echoes back, concurrently. Reports the first echo that is not byte-identical
 * (`firstMismatch` -1: none) rather than throwing, so the test asserts it; and the bytes that
 * came back.
 */
export async function echoSeeded(
  tun: Tunnel,
  opts: { n: number; seed: number; sizeOf: (i: number, next: () => number) => number; sendTimeoutMs?: number },
): Promise<{ bytes: number; firstMismatch: number; mismatch: string }> {
  const { n, seed, sizeOf } = opts
  const messages = function* (): Generator<Uint8Array> {
    const next = prng(seed)
    for (let i = 0; i < n; i++) yield randomBytesFrom(next, sizeOf(i, next))
  }
  const sendOptions = opts.sendTimeoutMs === undefined ? {} : { timeoutMs: opts.sendTimeoutMs }
  const writer = (async () => {
    for (const m of messages()) await tun.send(m, sendOptions)
  })()
  const reader = (async () => {
    let i = 0
    let bytes = 0
    let firstMismatch = -1
    let mismatch = ''
    for (const expected of messages()) {
      const got = await tun.receive({ timeoutMs: 10_000 })
      if (firstMismatch < 0 && (got.length !== expected.length || !Buffer.from(got).equals(Buffer.from(expected)))) {
        firstMismatch = i
        mismatch = `message ${i}: got ${got.length} bytes, expected ${expected.length} (or different content)`
      }
      bytes += got.length
      i++
    }
    return { bytes, firstMismatch, mismatch }
  })()
  const [, r] = await Promise.all([writer, reader])
  return r
}
