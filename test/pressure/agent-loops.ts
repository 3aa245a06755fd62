/**
 * The workload of a pressure-tier agent, one class per pattern, each keeping what the tier
 * asserts on: requests by outcome (with settle times), sequence-numbered events and
 * broadcasts checked per sender (order, duplicates, gaps), and a tunnel whose echo is checked
 * byte for byte while the writer's lead over the echo is tracked (flow control at work).
 * Times are Date.now() milliseconds, so the test can line them up with its own.
 */
import { HeraldError, type Connection, type Tunnel } from '@herald/client'

const utf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** At most this many requests outstanding per loop; beyond, a tick is skipped (and counted). */
const MAX_OUTSTANDING = 2000

export interface RequestRecord {
  /** Sent, settled (ms since epoch), outcome: "ok", an error code, "untyped" or "wrong-reply". */
  t: number
  settled: number
  outcome: string
}

export class RequestLoop {
  readonly records: RequestRecord[] = []
  outstanding = 0
  skipped = 0
  private seq = 0
  private timer: NodeJS.Timeout | undefined
  private idle: (() => void) | undefined

  constructor(private readonly conn: Connection, readonly tag: string, readonly cluster: string, readonly timeoutMs: number, readonly perSecond: number) {}

  start(): void {
    this.timer = setInterval(() => this.fire(), 1000 / this.perSecond)
  }

  /** Stops sending and waits for every request sent to settle (each has its own timeout). */
  async stop(): Promise<number> {
    clearInterval(this.timer)
    if (this.outstanding > 0) await Promise.race([new Promise<void>((r) => { this.idle = r }), sleep(this.timeoutMs + 10_000)])
    return this.outstanding
  }

  private fire(): void {
    if (this.outstanding >= MAX_OUTSTANDING) { this.skipped++; return }
    const payload = `${this.tag}:${this.seq++}`
    const t = Date.now()
    this.outstanding++
    this.conn.request(this.cluster, payload, { timeoutMs: this.timeoutMs }).then(
      (reply) => this.settle(t, utf8(reply).endsWith(`:${payload}`) ? 'ok' : 'wrong-reply'),
      (err: unknown) => this.settle(t, err instanceof HeraldError ? err.code : 'untyped'),
    )
  }

  private settle(t: number, outcome: string): void {
    this.records.push({ t, settled: Date.now(), outcome })
    if (--this.outstanding === 0) this.idle?.()
  }
}

/** Sends `${tag}|${seq}|padding` at a fixed rate, one at a time (a publish that waits slows it). */
export class SequenceSender {
  sent = 0
  errors = 0
  /** When each sequence number was sent (ms since epoch). */
  readonly times: number[] = []
  private running = false
  private done: Promise<void> | undefined

  constructor(private readonly send: (payload: string) => Promise<void>, readonly tag: string, readonly perSecond: number, readonly bytes: number) {}

  start(): void {
    this.running = true
    const started = Date.now()
    this.done = (async () => {
      while (this.running) {
        const due = started + (this.sent * 1000) / this.perSecond
        if (due > Date.now()) await sleep(due - Date.now())
        const head = `${this.tag}|${this.sent}|`
        this.times.push(Date.now())
        try {
          await this.send(head.padEnd(this.bytes, '.'))
        } catch {
          this.errors++
        }
        this.sent++
      }
    })()
  }

  async stop(): Promise<number> {
    this.running = false
    await this.done
    return this.sent
  }
}

export interface SenderTrack {
  received: number
  duplicates: number
  outOfOrder: number
  /** Highest sequence number seen, -1 before any. */
  maxSeq: number
  /** [sequence number, receive time (ms since epoch)], in arrival order. */
  arrivals: Array<[number, number]>
}

/** Checks `${tag}|${seq}|...` messages per sender: order, duplicates, what arrived when. */
export class SequenceChecker {
  readonly senders: Record<string, SenderTrack> = {}
  private readonly seen = new Map<string, Set<number>>()
  malformed = 0

  take(msg: Uint8Array): void {
    const [tag, seqText] = utf8(msg.subarray(0, Math.min(msg.length, 64))).split('|')
    const seq = Number(seqText)
    if (tag === undefined || !Number.isInteger(seq)) { this.malformed++; return }
    const s = this.senders[tag] ??= { received: 0, duplicates: 0, outOfOrder: 0, maxSeq: -1, arrivals: [] }
    const seen = this.seen.get(tag) ?? new Set<number>()
    this.seen.set(tag, seen)
    if (seen.has(seq)) { s.duplicates++; return }
    seen.add(seq)
    if (seq < s.maxSeq) s.outOfOrder++
    s.maxSeq = Math.max(s.maxSeq, seq)
    s.received++
    s.arrivals.push([seq, Date.now()])
  }
}

const HEADER = 4

/** Message `seq` of a tunnel: the sequence number, then bytes that depend on it. */
export function tunnelMessage(seq: number, bytes: number): Uint8Array {
  const m = new Uint8Array(bytes)
  new DataView(m.buffer).setUint32(0, seq)
  for (let j = HEADER; j < bytes; j++) m[j] = (seq + j) & 0xff
  return m
}

function checkMessage(m: Uint8Array, seq: number, bytes: number): boolean {
  if (m.length !== bytes || new DataView(m.buffer, m.byteOffset, m.byteLength).getUint32(0) !== seq) return false
  for (let j = HEADER; j < bytes; j++) if (m[j] !== ((seq + j) & 0xff)) return false
  return true
}

export interface TunnelError {
  t: number
  code: string
  message: string
}

/**
 * Opens a tunnel and writes numbered messages as fast as flow control lets it, while reading
 * the member's echo and checking each one. A broken tunnel is recorded and a new one opened
 * after a pause. `maxAhead` is the most the writer was ever ahead of the echo.
 */
export class TunnelWriter {
  bytesSent = 0
  bytesEchoed = 0
  maxAhead = 0
  mismatches = 0
  opened = 0
  /** Times a tunnel was opened (ms since epoch). */
  readonly openTimes: number[] = []
  /** Times each echo arrived (ms since epoch). */
  readonly echoTimes: number[] = []
  readonly errors: TunnelError[] = []
  private running = false
  private done: Promise<void> | undefined
  private current: Tunnel | undefined
  /** What the tunnel open now has sent and had echoed (a broken tunnel's remainder is not lost data). */
  unechoed = 0

  constructor(private readonly conn: Connection, readonly cluster: string, readonly messageBytes: number, readonly openTimeoutMs: number) {}

  start(): void {
    this.running = true
    this.done = (async () => {
      while (this.running) {
        try {
          await this.one()
        } catch (err) {
          this.errors.push({ t: Date.now(), code: err instanceof HeraldError ? err.code : 'untyped', message: String(err) })
          if (this.running) await sleep(250)
        }
      }
    })()
  }

  /** Stops writing, waits (bounded) for the echo of everything sent, closes the tunnel. */
  async stop(drainMs: number): Promise<void> {
    this.running = false
    const end = Date.now() + drainMs
    while (this.current !== undefined && this.unechoed > 0 && Date.now() < end) await sleep(20)
    await this.current?.close().catch(() => {})
    await Promise.race([this.done, sleep(drainMs)])
  }

  private async one(): Promise<void> {
    const tun = await this.conn.tunnel(this.cluster, { timeoutMs: this.openTimeoutMs })
    this.current = tun
    this.opened++
    this.openTimes.push(Date.now())
    let sent = 0
    let echoed = 0
    this.unechoed = 0
    const reading = (async () => {
      for await (const m of tun) {
        if (!checkMessage(m, echoed, this.messageBytes)) this.mismatches++
        echoed++
        this.bytesEchoed += m.length
        this.unechoed = sent - echoed
        this.echoTimes.push(Date.now())
      }
    })()
    // A reader that fails ends the writer too (and the other way round, by closing).
    let readError: unknown
    reading.catch((err: unknown) => { readError = err })
    try {
      while (this.running && readError === undefined) {
        await tun.send(tunnelMessage(sent, this.messageBytes))
        sent++
        this.bytesSent += this.messageBytes
        this.unechoed = sent - echoed
        this.maxAhead = Math.max(this.maxAhead, (sent - echoed) * this.messageBytes)
      }
      if (readError !== undefined) throw readError
      // Stopping: the echo of what is in flight still arrives (stop() waits for it).
      await reading
    } finally {
      if (this.current === tun) this.current = undefined
    }
  }
}
