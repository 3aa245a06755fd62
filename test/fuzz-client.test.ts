/**
 * Fuzzing the client port of a real relay (--max-message 65536) through real sockets: a few
 * hundred connections, many at a time, each a valid HELLO and then hundreds of hostile frames:
 * well-formed frames with hostile content (unknown ids, answers never asked for, tunnel data
 * past its allowance, subscribe/register storms, zero limits, names at the 255-byte limit,
 * payloads at the message limit), and on some connections a malformed tail (bit flips,
 * truncations, bad length prefixes, relay-only frames, payloads over the limit, garbage, or
 * the client's own ERROR, which the relay takes as a goodbye).
 *
 * An oracle (the same codec, and the relay's documented rules) predicts each connection's
 * fate from the exact bytes written to it: a connection that sent nothing malformed must be
 * served to the end (every ACK, every request answered exactly once, a PONG for the final
 * PING, no ERROR); one that did must get an ERROR with the predicted code, then be closed.
 * Afterwards the relay is alive, its RSS grew by less than 100 MiB, every connection is gone
 * from `herald status`, and an ordinary SDK request round trip works.
 *
 * Seed: HERALD_FUZZ_SEED (printed), so a failure can be replayed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, register, type Connection, type Service } from '@herald/client'
import {
  ErrorCode, FrameDecoder, FrameType, WireError, encodeFrame, parseFrame, type Frame,
} from '@herald/wire'
import { killAll, rssOf, runCli, startRelay, until, type RelayProc } from './harness.js'
import { Rng, hello, hostileName, rawConnect, type RawConn } from './fuzz-support.js'

const MAX_MSG = 65536
const MAX_FRAME = MAX_MSG + 1024
const SEED = Number(process.env['HERALD_FUZZ_SEED'] ?? 0x5eed_c11e)
const CONNECTIONS = Number(process.env['HERALD_FUZZ_CONNECTIONS'] ?? 240)
const PARALLEL = 16
const STORMS = 4 // connections that subscribe/register far past the per-connection limits
const MIN_FRAMES = 100_000

const POOL_CLUSTERS = ['fz-0', 'fz-1', 'fz-2', 'fz-3']
const POOL_TOPICS = ['ft-0', 'ft-1', 'ft-2', 'ft-3', 'ft-4']
const SENTINEL = 0xc0ffee00

let relay: RelayProc
let svc: Service
let conn: Connection
let baselineRss = 0

beforeAll(async () => {
  relay = await startRelay(['--max-message', String(MAX_MSG)])
  svc = await register({ port: relay.port, cluster: 'echo', handler: { handleRequest: (r) => r } })
  conn = await connect({ port: relay.port })
  expect(Buffer.from(await conn.request('echo', 'warm', { timeoutMs: 5000 })).toString()).toBe('warm')
  baselineRss = rssOf(relay.pid)
})

afterAll(async () => {
  await conn?.close().catch(() => {})
  await svc?.close().catch(() => {})
  await killAll()
})

// ---- the oracle -----------------------------------------------------------------------

const CLIENT_TYPES = new Set<number>([
  FrameType.register, FrameType.unregister, FrameType.request, FrameType.reply, FrameType.failure,
  FrameType.broadcast, FrameType.subscribe, FrameType.unsubscribe, FrameType.publish, FrameType.tunnelOpen,
  FrameType.tunnelAccept, FrameType.tunnelData, FrameType.tunnelAllowance, FrameType.tunnelClose,
  FrameType.ping, FrameType.pong, FrameType.close, FrameType.error,
])
const PAYLOAD_CHECKED = new Set<number>([FrameType.request, FrameType.reply, FrameType.broadcast, FrameType.tunnelData, FrameType.publish])

type Outcome = { kind: 'ok' } | { kind: 'error'; code: number; why: string } | { kind: 'closed' }

/** Follows the bytes written to one connection as the relay will read them (docs/protocol.md). */
class Oracle {
  private readonly decoder = new FrameDecoder({ maxFrameBytes: MAX_FRAME })
  private welcomed = false
  outcome: Outcome = { kind: 'ok' }
  /** Frames the relay will handle before the outcome (HELLO included). */
  handled = 0

  get partial(): number {
    return this.decoder.buffered
  }

  push(bytes: Uint8Array): void {
    if (this.outcome.kind !== 'ok') return
    this.decoder.push(bytes)
    for (;;) {
      let f: Frame
      try {
        const raw = this.decoder.next()
        if (raw === null) return
        f = parseFrame(raw.type, raw.body)
      } catch (err) {
        const e = err as WireError
        this.outcome = { kind: 'error', code: e.code, why: e.message }
        return
      }
      const o = this.frame(f)
      if (o !== undefined) {
        this.outcome = o
        return
      }
      this.handled++
    }
  }

  private frame(f: Frame): Outcome | undefined {
    if (!this.welcomed) {
      if (f.type !== FrameType.hello) return { kind: 'error', code: ErrorCode.protocol, why: 'first frame not HELLO' }
      if (f.version !== 1) return { kind: 'error', code: ErrorCode.version, why: 'version' }
      this.welcomed = true
      return undefined
    }
    if (!CLIENT_TYPES.has(f.type)) return { kind: 'error', code: ErrorCode.protocol, why: `0x${f.type.toString(16)} not a client frame` }
    if (PAYLOAD_CHECKED.has(f.type) && (f as { payload: Uint8Array }).payload.length > MAX_MSG) {
      return { kind: 'error', code: ErrorCode.tooLarge, why: 'payload over the limit' }
    }
    // A client's ERROR is a goodbye like CLOSE: the relay closes without answering.
    if (f.type === FrameType.close || f.type === FrameType.error) return { kind: 'closed' }
    return undefined
  }
}

// ---- hostile but well-formed frames ---------------------------------------------------

interface Ledger {
  ackables: number
  /** The ACK codes the relay owes, in order (docs/protocol.md, "Sequence numbers and ACK"). */
  expectAcks: number[]
  memberships: Set<string>
  subscriptions: Map<string, number>
  /** Requests sent per id (ids repeat: the answers are counted per id too). */
  requests: Map<number, number>
  requestCount: number
}

const newLedger = (): Ledger => ({ ackables: 0, expectAcks: [], memberships: new Set(), subscriptions: new Map(), requests: new Map(), requestCount: 0 })

/** What the relay must answer to REGISTER/UNREGISTER/SUBSCRIBE/UNSUBSCRIBE, given what came before. */
function expectAck(l: Ledger, role: 0 | 1, f: Frame): void {
  const push = (code: number): void => { l.expectAcks.push(code) }
  switch (f.type) {
    case FrameType.register: {
      const zero = f.requestConcurrency < 1 || f.requestMemory < 1 || f.broadcastConcurrency < 1 || f.broadcastMemory < 1
      if (role !== 1 || f.cluster.startsWith('$') || l.memberships.has(f.cluster)) return push(ErrorCode.invalid)
      if (l.memberships.size >= 64) return push(ErrorCode.limit)
      if (zero) return push(ErrorCode.invalid)
      l.memberships.add(f.cluster)
      return push(ErrorCode.ok)
    }
    case FrameType.unregister:
      return push(l.memberships.delete(f.cluster) ? ErrorCode.ok : ErrorCode.invalid)
    case FrameType.subscribe: {
      const n = l.subscriptions.get(f.topic)
      if (n === undefined && l.subscriptions.size >= 4096) return push(ErrorCode.limit)
      if (f.memoryLimit < 1) return push(ErrorCode.invalid)
      l.subscriptions.set(f.topic, (n ?? 0) + 1)
      return push(ErrorCode.ok)
    }
    case FrameType.unsubscribe: {
      const n = l.subscriptions.get(f.topic)
      if (n === undefined) return push(ErrorCode.invalid)
      if (n === 1) l.subscriptions.delete(f.topic)
      else l.subscriptions.set(f.topic, n - 1)
      return push(ErrorCode.ok)
    }
    default:
  }
}

function payload(r: Rng): Uint8Array {
  return r.weighted<() => Uint8Array>([
    [30, () => new Uint8Array(0)],
    [55, () => r.bytes(r.range(1, 64))],
    [12, () => r.bytes(r.range(65, 2000))],
    [2, () => new Uint8Array(MAX_MSG)], // exactly the limit: allowed
    [1, () => new Uint8Array(MAX_MSG - r.int(16))],
  ])()
}

function text(r: Rng): string {
  return r.weighted<() => string>([
    [60, () => ''],
    [30, () => 'why '.repeat(r.range(1, 20))],
    [5, () => 'x'.repeat(1024)],
    [5, () => '€'.repeat(400)], // 1200 bytes: the encoder cuts it to 1023 at a character boundary
  ])()
}

function anyId(r: Rng): number {
  return r.weighted<() => number>([[50, () => r.range(1, 64)], [30, () => r.range(1, 5000)], [20, () => r.u32()]])()
}

const LONG_TIMEOUTS = [0xffffffff, 0x7fffffff, 0x80000000, 3_600_000]

/** One well-formed frame with hostile content; records what must be answered. */
function hostileFrame(r: Rng, role: 0 | 1, ledger: Ledger): Frame {
  const kind = r.weighted<string>([
    [14, 'request'], [7, 'reply'], [6, 'failure'], [5, 'broadcast'], [10, 'subscribe'], [6, 'unsubscribe'],
    [9, 'publish'], [role === 1 ? 8 : 2, 'register'], [3, 'unregister'], [6, 'tunnelOpen'], [4, 'tunnelAccept'],
    [7, 'tunnelData'], [4, 'tunnelAllowance'], [4, 'tunnelClose'], [4, 'ping'], [3, 'pong'],
  ])
  switch (kind) {
    case 'request': {
      const target = r.weighted<string>([[40, 'nobody'], [15, 'echo'], [25, 'pool'], [5, 'status'], [15, 'hostile']])
      const cluster = target === 'nobody' ? `nobody-${r.int(1000)}` : target === 'echo' ? 'echo'
        : target === 'pool' ? r.pick(POOL_CLUSTERS) : target === 'status' ? '$herald.status' : hostileName(r, 'q')
      // Fuzz members (pool clusters, hostile names they may have registered) may never answer:
      // short deadlines there. Long ones (past setTimeout's 2^31-1 ms) where no fuzz member is.
      const timeoutMs = target === 'pool' || target === 'hostile' ? r.pick([0, 1, 20, 100, 300])
        : r.weighted<() => number>([[60, () => r.range(0, 500)], [40, () => r.pick(LONG_TIMEOUTS)]])()
      const id = anyId(r)
      ledger.requests.set(id, (ledger.requests.get(id) ?? 0) + 1)
      ledger.requestCount++
      return { type: FrameType.request, id, timeoutMs, cluster, payload: target === 'echo' && r.chance(0.9) ? r.bytes(r.int(100)) : payload(r) }
    }
    case 'reply':
      return { type: FrameType.reply, id: anyId(r), payload: payload(r) }
    case 'failure':
      return { type: FrameType.failure, id: anyId(r), code: r.pick([0, 1, 2, 8, 13, 200, 65535]) as ErrorCode, message: text(r) }
    case 'broadcast':
      return { type: FrameType.broadcast, cluster: r.pick([...POOL_CLUSTERS, 'echo', hostileName(r, 'b')]), payload: payload(r) }
    case 'subscribe':
      ledger.ackables++
      return { type: FrameType.subscribe, seq: r.u32(), topic: r.chance(0.6) ? r.pick(POOL_TOPICS) : hostileName(r, 't'), memoryLimit: r.pick([0, 1, 100, 1 << 20, 0xffffffff]) }
    case 'unsubscribe':
      ledger.ackables++
      return { type: FrameType.unsubscribe, seq: r.u32(), topic: r.chance(0.6) ? r.pick(POOL_TOPICS) : hostileName(r, 't') }
    case 'publish':
      return { type: FrameType.publish, topic: r.chance(0.6) ? r.pick(POOL_TOPICS) : hostileName(r, 't'), payload: payload(r) }
    case 'register': {
      ledger.ackables++
      const lim = (): number => r.pick([0, 1, 1, 10, 1 << 20, 0xffffffff])
      return {
        type: FrameType.register, seq: r.u32(), cluster: r.chance(0.6) ? r.pick(POOL_CLUSTERS) : hostileName(r, 'c'),
        requestConcurrency: lim(), requestMemory: lim(), broadcastConcurrency: lim(), broadcastMemory: lim(),
      }
    }
    case 'unregister':
      ledger.ackables++
      return { type: FrameType.unregister, seq: r.u32(), cluster: r.chance(0.6) ? r.pick(POOL_CLUSTERS) : hostileName(r, 'c') }
    case 'tunnelOpen':
      return {
        type: FrameType.tunnelOpen, tunnel: r.range(1, 40), timeoutMs: r.pick([0, 10, 200, 0xffffffff]),
        cluster: r.pick([...POOL_CLUSTERS, 'echo', 'nobody', hostileName(r, 'u')]),
      }
    case 'tunnelAccept':
      return { type: FrameType.tunnelAccept, tunnel: anyId(r), allowance: r.pick([0, 1, 1000, 0xffffffff]) }
    case 'tunnelData':
      return { type: FrameType.tunnelData, tunnel: r.chance(0.7) ? r.range(1, 40) : anyId(r), payload: payload(r) }
    case 'tunnelAllowance':
      return { type: FrameType.tunnelAllowance, tunnel: anyId(r), bytes: r.pick([0, 1, 0x7fffffff, 0xffffffff]) }
    case 'tunnelClose':
      return { type: FrameType.tunnelClose, tunnel: anyId(r), code: r.pick([0, 4, 9, 777]) as ErrorCode, reason: text(r) }
    case 'ping':
      return { type: FrameType.ping, token: r.int(SENTINEL) }
    default:
      return { type: FrameType.pong, token: r.u32() }
  }
}

// ---- malformed units ----------------------------------------------------------------

function withLength(frame: Uint8Array, length: number): Uint8Array {
  const out = frame.slice()
  new DataView(out.buffer).setUint32(0, length >>> 0)
  return out
}

const NON_CLIENT: Frame[] = [
  { type: FrameType.welcome, version: 1, maxMessageBytes: 5, nodeId: 'me' },
  { type: FrameType.event, topic: 'ft-0', payload: new Uint8Array(3) },
  { type: FrameType.ack, seq: 1, code: 0 as ErrorCode, message: '' },
  { type: FrameType.dropped, topic: 'ft-0', count: 3 },
  { type: FrameType.hello, version: 1, role: 1 },
  { type: FrameType.peerHello, version: 1, network: 'herald', nodeId: '12D3KooWfake' },
  { type: FrameType.control, body: Uint8Array.from([9]) },
]

const BAD_UTF8 = [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0xf4, 0x90, 0x80, 0x80], [0x61, 0x80]]

/** One malformed unit (or a bit-flipped frame that may happen to stay valid: the oracle decides). */
function malformedUnit(r: Rng, role: 0 | 1, scratch: Ledger): { bytes: Uint8Array; what: string } {
  const valid = (): Uint8Array => encodeFrame(hostileFrame(r, role, scratch))
  const what = r.weighted<string>([
    [14, 'bitflip'], [10, 'truncated'], [6, 'trailing'], [8, 'length'], [10, 'relay-only'], [8, 'unknown-type'],
    [8, 'bad-utf8'], [8, 'bad-publish'], [5, 'empty-name'], [4, 'long-text'], [10, 'oversize'], [5, 'frame-too-large'], [12, 'garbage'], [3, 'client-error'],
  ])
  switch (what) {
    case 'bitflip': {
      const b = valid().slice()
      const flips = r.range(1, 3)
      for (let i = 0; i < flips; i++) {
        const at = r.chance(0.2) ? r.int(5) : r.int(b.length) // often the header
        b[at]! ^= 1 << r.int(8)
      }
      return { bytes: b, what }
    }
    case 'truncated': {
      const b = valid()
      const cut = r.range(1, Math.max(1, b.length - 5))
      return { bytes: withLength(b.subarray(0, b.length - cut), b.length - cut - 4), what }
    }
    case 'trailing': {
      const extra = r.bytes(r.range(1, 8))
      const b = valid()
      const out = new Uint8Array(b.length + extra.length)
      out.set(b)
      out.set(extra, b.length)
      return { bytes: withLength(out, out.length - 4), what }
    }
    case 'length': {
      const b = valid()
      const len = r.pick([0, MAX_FRAME + 1, 0xffffffff, 0x80000000, r.int(b.length), b.length - 4 + r.range(1, 50)])
      return { bytes: withLength(b, len), what }
    }
    case 'relay-only':
      return { bytes: encodeFrame(r.pick(NON_CLIENT)), what }
    case 'client-error':
      // Not malformed: the client's goodbye (the oracle expects a close without an answer).
      return { bytes: encodeFrame({ type: FrameType.error, code: r.pick([8, 6, 777]) as ErrorCode, message: text(r) }), what }
    case 'unknown-type': {
      const types = [0x00, 0x18, 0x20, 0x3f, 0x43, 0x7f, 0x80, 0xff]
      const body = r.bytes(r.int(30))
      const b = new Uint8Array(5 + body.length)
      new DataView(b.buffer).setUint32(0, 1 + body.length)
      b[4] = r.pick(types)
      b.set(body, 5)
      return { bytes: b, what }
    }
    case 'bad-utf8': {
      // A SUBSCRIBE whose topic is not UTF-8: u32 seq, name, u32 memoryLimit.
      const name = r.pick(BAD_UTF8)
      const b = new Uint8Array(5 + 4 + 1 + name.length + 4)
      new DataView(b.buffer).setUint32(0, b.length - 4)
      b[4] = FrameType.subscribe
      b[9] = name.length
      b.set(name, 10)
      return { bytes: b, what }
    }
    case 'bad-publish': {
      // The PUBLISH hot path decodes only the topic (and reuses the last one): a valid PUBLISH
      // to a 2-byte topic, then one whose topic is broken, of the same length or none at all.
      const good = encodeFrame({ type: FrameType.publish, topic: 'ft', payload: r.bytes(r.int(8)) })
      const bad = r.pick([[], [0], [5, 0x61], [2, 0xff, 0xfe], [2, 0xc3], [2, 0xed, 0xa0], [255, 0x61, 0x62]])
      const b = new Uint8Array(5 + bad.length)
      new DataView(b.buffer).setUint32(0, 1 + bad.length)
      b[4] = FrameType.publish
      b.set(bad, 5)
      return { bytes: Buffer.concat([good, b]), what: `bad-publish-${bad.join('.')}` }
    }
    case 'empty-name': {
      // A BROADCAST with an empty cluster name.
      const b = new Uint8Array(5 + 1 + 3)
      new DataView(b.buffer).setUint32(0, b.length - 4)
      b[4] = FrameType.broadcast
      b[5] = 0
      return { bytes: b, what }
    }
    case 'long-text': {
      // A FAILURE whose message claims 1025 bytes (and has them).
      const n = r.pick([1025, 4000, 65535])
      const b = new Uint8Array(5 + 4 + 2 + 2 + n).fill(0x61)
      const v = new DataView(b.buffer)
      v.setUint32(0, b.length - 4)
      b[4] = FrameType.failure
      v.setUint32(5, 1)
      v.setUint16(9, 0)
      v.setUint16(11, n)
      return { bytes: b, what }
    }
    case 'oversize': {
      const p = new Uint8Array(MAX_MSG + r.range(1, 600))
      const f = r.pick<Frame>([
        { type: FrameType.request, id: 1, timeoutMs: 100, cluster: 'echo', payload: p },
        { type: FrameType.reply, id: 1, payload: p },
        { type: FrameType.broadcast, cluster: 'fz-0', payload: p },
        { type: FrameType.publish, topic: 'ft-0', payload: p },
        { type: FrameType.tunnelData, tunnel: 1, payload: p },
      ])
      return { bytes: encodeFrame(f), what: `oversize-${f.type}` }
    }
    case 'frame-too-large': {
      const b = new Uint8Array(5)
      new DataView(b.buffer).setUint32(0, MAX_FRAME + r.range(1, 1 << 20))
      b[4] = FrameType.publish
      return { bytes: b, what }
    }
    default:
      return { bytes: r.bytes(r.range(1, 3000)), what: 'garbage' }
  }
}

// ---- one connection -----------------------------------------------------------------

type Kind = 'valid' | 'malformed' | 'no-hello' | 'storm'

interface Result {
  index: number
  kind: Kind
  role: 0 | 1
  framesSent: number
  framesHandled: number
  outcome: Outcome
  partial: number
  errors: Array<{ code: number; message: string }>
  errorThenClose: boolean
  closedByRelay: boolean
  pong: boolean
  acks: number
  ackables: number
  requestCount: number
  answersMissing: number
  answersExtra: number
  ackCodes: number[]
  expectAcks: number[]
  received: number
  decodeError: string | undefined
  tail: string[]
}

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))])

async function fuzzConnection(index: number, kind: Kind): Promise<Result> {
  const r = new Rng(SEED ^ Math.imul(index + 1, 0x9e3779b1))
  // Reactions depend on timing: their own generator keeps the rest of the run reproducible.
  const rr = new Rng(SEED ^ Math.imul(index + 1, 0x85ebca6b))
  const role: 0 | 1 = kind === 'storm' ? (index % 2 === 0 ? 1 : 0) : r.chance(0.5) ? 1 : 0
  const c: RawConn = await rawConnect(relay.port)
  const oracle = new Oracle()
  const ledger = newLedger()
  const scratch = newLedger()
  const ackCodes: number[] = []
  const answers = new Map<number, number>()
  let acks = 0
  let pong = false
  let received = 0
  let sent = 0
  let reacting = true
  const tail: string[] = []
  let pongWaiter: (() => void) | undefined

  const send = (bytes: Uint8Array, frames: number): Promise<void> => {
    oracle.push(bytes)
    sent += frames
    return c.write(bytes)
  }
  const react = (f: Frame): void => {
    if (!reacting || c.isClosed()) return
    const out: Frame[] = []
    switch (f.type) {
      case FrameType.request: // we are a member: answer, answer twice, fail, or never answer
        if (rr.chance(0.4)) out.push({ type: FrameType.reply, id: f.id, payload: f.payload })
        if (rr.chance(0.1)) out.push({ type: FrameType.reply, id: f.id, payload: new Uint8Array(0) })
        if (rr.chance(0.2)) out.push({ type: FrameType.failure, id: f.id, code: rr.pick([0, 2, 65535]) as ErrorCode, message: 'no' })
        break
      case FrameType.tunnelOpen: // accept with a tiny allowance and overrun our own (zero) credit, or refuse
        if (rr.chance(0.5)) {
          out.push({ type: FrameType.tunnelAccept, tunnel: f.tunnel, allowance: rr.pick([0, 1, 100, 1 << 20]) })
          for (let i = rr.int(4); i > 0; i--) out.push({ type: FrameType.tunnelData, tunnel: f.tunnel, payload: rr.bytes(rr.int(300)) })
        // eslint-disable-next-line no-dupe-else-if -- a second, independent coin toss
        } else if (rr.chance(0.5)) {
          out.push({ type: FrameType.tunnelClose, tunnel: f.tunnel, code: rr.pick([0, 9]) as ErrorCode, reason: 'no thanks' })
        }
        break
      case FrameType.tunnelAccept: // send past the allowance
        for (let i = rr.range(1, 4); i > 0; i--) out.push({ type: FrameType.tunnelData, tunnel: f.tunnel, payload: rr.bytes(f.allowance > 2000 ? 1500 : rr.range(1, 300)) })
        if (rr.chance(0.3)) out.push({ type: FrameType.tunnelAllowance, tunnel: f.tunnel, bytes: rr.pick([1, 0xffffffff]) })
        break
      case FrameType.ping:
        out.push({ type: FrameType.pong, token: f.token })
        break
      default:
    }
    for (const o of out) void send(encodeFrame(o), 1)
  }
  c.onFrame = (f) => {
    received++
    if (f.type === FrameType.ack) { acks++; ackCodes.push(f.code) }
    else if (f.type === FrameType.reply || f.type === FrameType.failure) answers.set(f.id, (answers.get(f.id) ?? 0) + 1)
    else if (f.type === FrameType.pong && f.token === SENTINEL + index) { pong = true; pongWaiter?.() }
    react(f)
  }

  if (kind === 'no-hello') {
    // Something that is not a Herald client: HTTP, random bytes, or a frame before HELLO.
    const u = r.weighted<() => Uint8Array>([
      [1, () => new TextEncoder().encode('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
      [1, () => r.bytes(r.range(1, 2000))],
      [1, () => encodeFrame({ type: FrameType.ping, token: 1 })],
      [1, () => hello(0, r.pick([0, 2, 255]))],
    ])()
    await send(u, 1)
    tail.push('no-hello')
  } else {
    // HELLO, and often the first frames right behind it, before WELCOME.
    const waitWelcome = r.chance(0.5)
    await send(hello(role), 1)
    if (waitWelcome) await until(() => (c.counts.get(FrameType.welcome) ?? 0) > 0 || c.isClosed(), 5000, 'WELCOME')
    const frames: Frame[] = []
    if (kind === 'storm') {
      // Past the per-connection limits: 4,096 subscriptions / 64 registrations, then back.
      const n = role === 1 ? 70 : 4100
      for (let i = 0; i < n; i++) {
        ledger.ackables++
        frames.push(role === 1
          ? { type: FrameType.register, seq: i, cluster: `storm-${index}-${i}`, requestConcurrency: 1, requestMemory: 1, broadcastConcurrency: 1, broadcastMemory: 1 }
          : { type: FrameType.subscribe, seq: i, topic: `storm-${index}-${i}`, memoryLimit: 1 })
      }
      for (let i = 0; i < n; i++) {
        ledger.ackables++
        frames.push(role === 1
          ? { type: FrameType.unregister, seq: i, cluster: `storm-${index}-${i}` }
          : { type: FrameType.unsubscribe, seq: i, topic: `storm-${index}-${i}` })
      }
    }
    const count = kind === 'malformed' ? r.range(0, 520) : r.range(500, 620)
    for (let i = 0; i < count; i++) frames.push(hostileFrame(r, role, ledger))
    for (const f of frames) expectAck(ledger, role, f)
    // Written in batches of varied size, as a coalescing writer would.
    for (let i = 0; i < frames.length;) {
      const n = r.range(1, 120)
      const batch = frames.slice(i, i + n)
      i += n
      const parts = batch.map((f) => encodeFrame(f))
      await send(Buffer.concat(parts), parts.length)
      if (r.chance(0.1)) await new Promise((res) => setImmediate(res))
    }
    if (kind === 'malformed') {
      reacting = false
      const units: Uint8Array[] = []
      for (let i = r.range(1, 3); i > 0; i--) {
        const u = malformedUnit(r, role, scratch)
        tail.push(u.what)
        units.push(u.bytes)
      }
      for (let i = r.int(20); i > 0; i--) units.push(encodeFrame(hostileFrame(r, role, scratch)))
      await send(Buffer.concat(units), units.length)
    }
  }

  // The verdict: served to the end, or an ERROR and a close.
  let closedByRelay = false
  if (oracle.outcome.kind === 'ok' && oracle.partial === 0) {
    const pongSeen = new Promise<void>((res) => { pongWaiter = res; if (pong) res() })
    await send(encodeFrame({ type: FrameType.ping, token: SENTINEL + index }), 1)
    await withTimeout(Promise.race([pongSeen, c.closed]), 20_000)
    if (kind === 'valid' || kind === 'storm') {
      // Every request is answered exactly once (deadlines here are at most 500 ms, or long
      // ones only where nobody or the echo member answers).
      const missing = (): number => {
        let m = 0
        for (const [id, n] of ledger.requests) m += Math.max(0, n - (answers.get(id) ?? 0))
        return m
      }
      await until(() => missing() === 0 || c.isClosed(), 8000, 'answers').catch(() => {})
    }
    reacting = false
    // Leave in one of three ways: a CLOSE frame, a half close, or an abrupt reset.
    const how = r.int(3)
    if (how === 0) {
      await send(encodeFrame({ type: FrameType.close, code: 0 as ErrorCode, reason: 'bye' }), 1)
      closedByRelay = (await withTimeout(c.closed, 5000)) !== 'timeout'
    } else if (how === 1) {
      c.socket.end()
      await withTimeout(c.closed, 5000)
    }
    c.socket.destroy()
  } else if (oracle.outcome.kind === 'ok') {
    // A partial frame is pending: the relay waits for the rest. End our side; it must close.
    c.socket.end()
    closedByRelay = (await withTimeout(c.closed, 5000)) !== 'timeout'
    c.socket.destroy()
  } else {
    closedByRelay = (await withTimeout(c.closed, 10_000)) !== 'timeout'
    c.socket.destroy()
  }
  let answersMissing = 0
  let answersExtra = 0
  for (const [id, n] of ledger.requests) {
    const got = answers.get(id) ?? 0
    if (got < n) answersMissing += n - got
    if (got > n) answersExtra += got - n
  }
  return {
    index, kind, role, framesSent: sent, framesHandled: oracle.handled, outcome: oracle.outcome, partial: oracle.partial,
    errors: c.errors, errorThenClose: c.errorThenClose(), closedByRelay, pong, acks, ackables: ledger.ackables,
    requestCount: ledger.requestCount, answersMissing, answersExtra, ackCodes, expectAcks: ledger.expectAcks, received, decodeError: c.decodeError, tail,
  }
}

async function pool<T>(n: number, parallel: number, work: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n)
  let next = 0
  await Promise.all(Array.from({ length: parallel }, async () => {
    for (;;) {
      const i = next++
      if (i >= n) return
      out[i] = await work(i)
    }
  }))
  return out
}

function kindOf(i: number): Kind {
  if (i < STORMS) return 'storm'
  const x = new Rng(SEED + i).int(100)
  return x < 55 ? 'valid' : x < 94 ? 'malformed' : 'no-hello'
}

describe(`client-port fuzzing (seed ${SEED})`, () => {
  it(`${MIN_FRAMES}+ hostile frames on ${CONNECTIONS} connections: the relay stays up, bounded, and correct`, async () => {
    const started = Date.now()
    const results = await pool(CONNECTIONS, PARALLEL, (i) => fuzzConnection(i, kindOf(i)))
    const elapsed = Date.now() - started

    const total = results.reduce((s, x) => s + x.framesSent, 0)
    const handled = results.reduce((s, x) => s + x.framesHandled, 0)
    const by = (k: Kind): Result[] => results.filter((x) => x.kind === k)
    const expectedErrors = results.filter((x) => x.outcome.kind === 'error')
    const summary = {
      seed: SEED, elapsedMs: elapsed, framesSent: total, framesHandled: handled,
      framesReceived: results.reduce((s, x) => s + x.received, 0),
      connections: { valid: by('valid').length, malformed: by('malformed').length, noHello: by('no-hello').length, storm: by('storm').length },
      errorsExpected: expectedErrors.length, errorsSeenBeforeClose: results.filter((x) => x.errorThenClose).length,
      requests: results.reduce((s, x) => s + x.requestCount, 0),
      ackCodes: results.flatMap((x) => x.ackCodes).reduce<Record<number, number>>((m, c) => { m[c] = (m[c] ?? 0) + 1; return m }, {}),
      rssBaselineMiB: +(baselineRss / 1048576).toFixed(1), rssNowMiB: +(rssOf(relay.pid) / 1048576).toFixed(1),
    }
    console.log(JSON.stringify(summary))

    expect(total).toBeGreaterThanOrEqual(MIN_FRAMES)
    // Connections that sent nothing malformed were served to the end.
    for (const x of results.filter((y) => y.outcome.kind === 'ok' && y.partial === 0)) {
      const ctx = JSON.stringify({ index: x.index, kind: x.kind, tail: x.tail, errors: x.errors })
      expect(x.errors, ctx).toEqual([])
      expect(x.decodeError, ctx).toBeUndefined()
      expect(x.pong, ctx).toBe(true)
      if (x.kind === 'valid' || x.kind === 'storm') {
        expect(x.acks, ctx).toBe(x.ackables)
        expect(x.ackCodes, ctx).toEqual(x.expectAcks)
        expect({ missing: x.answersMissing, extra: x.answersExtra }, ctx).toEqual({ missing: 0, extra: 0 })
      }
    }
    // Malformed input: an ERROR with the predicted code, then the close.
    for (const x of expectedErrors) {
      const o = x.outcome as { code: number; why: string }
      const ctx = JSON.stringify({ index: x.index, kind: x.kind, tail: x.tail, why: o.why, errors: x.errors })
      expect(x.closedByRelay, ctx).toBe(true)
      expect(x.errorThenClose, ctx).toBe(true)
      expect(x.errors.map((e) => e.code), ctx).toEqual([o.code])
    }
    for (const x of results.filter((y) => y.outcome.kind === 'closed')) expect(x.errors, `conn ${x.index}`).toEqual([])
    expect(expectedErrors.length).toBeGreaterThanOrEqual(60)
    // Every storm connection hit its limit and got `limit` ACKs (counted above as ACKs).
    expect(by('storm').every((x) => x.pong)).toBe(true)

    // The relay: alive, bounded, all those connections gone, and still serving.
    expect(relay.child.exitCode).toBeNull()
    const reply = await conn.request('echo', 'after the storm', { timeoutMs: 5000 })
    expect(Buffer.from(reply).toString()).toBe('after the storm')
    const grown = rssOf(relay.pid) - baselineRss
    expect(grown, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB`).toBeLessThan(100 * 1024 * 1024)
    await until(async () => {
      const st = await runCli(['status', '--json', '--port', String(relay.port)])
      return st.code === 0 && (JSON.parse(st.stdout) as { clients: number }).clients === 3 // svc, conn, and status itself
    }, 15_000, 'every fuzz connection to be gone from herald status')
    expect(relay.stderr()).not.toMatch(/TimeoutOverflowWarning|TypeError|RangeError|ReferenceError|uncaught|unhandled|internal error/i)
  }, 120_000)

  it('a request with a deadline above 2^31-1 ms does not time out at once (setTimeout overflow)', async () => {
    const slow = await register({
      port: relay.port, cluster: 'slow-echo',
      handler: { handleRequest: async (r) => { await new Promise((res) => setTimeout(res, 50)); return r } },
    })
    try {
      const c = await rawConnect(relay.port)
      const got: Frame[] = []
      c.onFrame = (f) => got.push(f)
      await c.write(Buffer.concat([
        hello(0),
        encodeFrame({ type: FrameType.request, id: 1, timeoutMs: 0xffffffff, cluster: 'slow-echo', payload: new Uint8Array([1]) }),
        encodeFrame({ type: FrameType.request, id: 2, timeoutMs: 0x80000000, cluster: 'slow-echo', payload: new Uint8Array([2]) }),
      ]))
      await until(() => got.filter((f) => f.type === FrameType.reply || f.type === FrameType.failure).length === 2, 5000, 'two answers')
      expect(got.filter((f) => f.type === FrameType.failure)).toEqual([])
      c.socket.destroy()
      // The SDK too: its own timer must not fire at once either.
      expect(Buffer.from(await conn.request('slow-echo', 'x', { timeoutMs: 3_000_000_000 })).toString()).toBe('x')
    } finally {
      await slow.close()
    }
  })

  it('a PUBLISH over the message limit is refused with ERROR tooLarge (like every other payload)', async () => {
    const sub = await rawConnect(relay.port)
    const events: Frame[] = []
    sub.onFrame = (f) => { if (f.type === FrameType.event) events.push(f) }
    await sub.write(Buffer.concat([hello(0), encodeFrame({ type: FrameType.subscribe, seq: 1, topic: 'big', memoryLimit: 1 << 24 })]))
    await until(() => (sub.counts.get(FrameType.ack) ?? 0) === 1, 5000, 'subscribe ACK')
    const c = await rawConnect(relay.port)
    await c.write(Buffer.concat([hello(0), encodeFrame({ type: FrameType.publish, topic: 'big', payload: new Uint8Array(MAX_MSG + 1) })]))
    await withTimeout(c.closed, 5000)
    expect(c.errors.map((e) => e.code)).toEqual([ErrorCode.tooLarge])
    expect(c.errorThenClose()).toBe(true)
    // At the limit it is delivered.
    const ok = await rawConnect(relay.port)
    await ok.write(Buffer.concat([hello(0), encodeFrame({ type: FrameType.publish, topic: 'big', payload: new Uint8Array(MAX_MSG) })]))
    await until(() => events.length === 1, 5000, 'the event at the limit')
    expect((events[0] as { payload: Uint8Array }).payload.length).toBe(MAX_MSG)
    ok.socket.destroy()
    sub.socket.destroy()
  })
})
