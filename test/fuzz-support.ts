/**
 * Shared pieces of the fuzz tests: a seeded PRNG, hostile names, and a raw client-protocol
 * connection that decodes what the relay sends with FrameDecoder.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { ErrorCode, FrameDecoder, FrameType, encodeFrame, nextFrame, type Frame } from '@herald/wire'

/** mulberry32: small, fast, seeded; good enough to drive a fuzzer reproducibly. */
export class Rng {
  private s: number
  constructor(seed: number) {
    this.s = seed >>> 0
  }
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0
    let t = this.s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  /** 0..n-1 */
  int(n: number): number {
    return Math.floor(this.next() * n)
  }
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1)
  }
  u32(): number {
    return this.int(0x100000000)
  }
  chance(p: number): boolean {
    return this.next() < p
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }
  /** Weighted choice: [[weight, value], ...]. */
  weighted<T>(table: ReadonlyArray<readonly [number, T]>): T {
    let total = 0
    for (const [w] of table) total += w
    let x = this.next() * total
    for (const [w, v] of table) {
      x -= w
      if (x < 0) return v
    }
    return table[table.length - 1]![1]
  }
}

const CHARS = ['a', 'Z', '0', '.', '-', '_', ' ', '/', '%', '\u0000', '\n', 'é', '€', '\u{1F600}', '\uFEFF', '\u0301', '$']

/** Valid names (1..255 UTF-8 bytes), many of them hostile: limits, multibyte, BOM, NUL, '$'. */
export function hostileName(r: Rng, prefix = ''): string {
  switch (r.int(12)) {
    case 0: return 'n'.repeat(255) // the byte limit, ASCII
    case 1: return '€'.repeat(85) // 255 bytes of 3-byte characters
    case 2: return '\u{1F600}'.repeat(63) + 'abc' // 252 + 3 bytes
    case 3: return '\uFEFF' + prefix + String(r.int(50)) // a leading BOM is a character
    case 4: return '$herald.' + r.pick(['nope', 'status2', 'x'])
    case 5: return '$' + String(r.int(100))
    case 6: return prefix + 'x'.repeat(r.range(200, 254 - prefix.length)) // near the limit
    default: {
      let s = prefix
      const n = r.range(1, 24)
      for (let i = 0; i < n; i++) s += r.pick(CHARS)
      // Keep it within 255 bytes.
      while (Buffer.byteLength(s) > 255) s = s.slice(0, -1)
      return s.length === 0 ? 'x' : s
    }
  }
}

export interface RawConn {
  readonly socket: Socket
  /** Frames of each type received. */
  readonly counts: Map<number, number>
  readonly errors: Array<{ code: number; message: string }>
  /** Whether an ERROR arrived and the connection then closed (in that order). */
  errorThenClose(): boolean
  closed: Promise<void>
  isClosed(): boolean
  decodeError: string | undefined
  /** Writes bytes unless the socket is gone; resolves when it may write more (backpressure). */
  write(bytes: Uint8Array): Promise<void>
  onFrame: ((f: Frame) => void) | undefined
}

/** A raw TCP connection to a relay's client port. */
export function rawConnect(port: number): Promise<RawConn> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port })
    socket.setNoDelay(true)
    const decoder = new FrameDecoder()
    let closedFlag = false
    let errorBeforeClose = false
    const conn: RawConn = {
      socket,
      counts: new Map(),
      errors: [],
      closed: new Promise<void>((res) => socket.once('close', () => { closedFlag = true; res() })),
      isClosed: () => closedFlag,
      errorThenClose: () => closedFlag && errorBeforeClose,
      decodeError: undefined,
      onFrame: undefined,
      write(bytes) {
        if (socket.destroyed || socket.writableEnded) return Promise.resolve()
        if (socket.write(bytes)) return Promise.resolve()
        return new Promise<void>((r) => {
          const done = (): void => { socket.off('drain', done); socket.off('close', done); r() }
          socket.on('drain', done)
          socket.on('close', done)
        })
      },
    }
    socket.on('data', (chunk: Buffer) => {
      if (conn.decodeError !== undefined) return
      decoder.push(chunk)
      try {
        for (let f = nextFrame(decoder); f !== null; f = nextFrame(decoder)) {
          conn.counts.set(f.type, (conn.counts.get(f.type) ?? 0) + 1)
          if (f.type === FrameType.error) {
            conn.errors.push({ code: f.code, message: f.message })
            errorBeforeClose = true
          }
          conn.onFrame?.(f)
        }
      } catch (err) {
        conn.decodeError = (err as Error).message
      }
    })
    socket.on('error', () => {})
    socket.once('connect', () => resolve(conn))
    socket.once('error', reject)
  })
}

export const hello = (role: 0 | 1 = 0, version = 1): Uint8Array =>
  encodeFrame({ type: FrameType.hello, version, role } as Frame)

export { ErrorCode }
