/**
 * The relay-to-relay control protocol: membership, failure detection and directory
 * dissemination (docs/protocol.md, "Control messages"). One CONTROL frame carries one message;
 * the body starts with a kind byte. Binary, bounded, and decoded as hostile input: every
 * count and length is checked before use, and anything malformed is a WireError (the link
 * then closes the peer).
 */
import { MAX_NAME_BYTES } from './constants.js'
import { ErrorCode, WireError } from './errors.js'

export type NodeId = string

/** A relay's liveness as gossiped: at one version, alive < suspect < dead. */
export const Liveness = { alive: 0, suspect: 1, dead: 2 } as const
export type Liveness = (typeof Liveness)[keyof typeof Liveness]

/**
 * A change of one relay's entry from version `base` to `version`; `base` 0 means the whole
 * entry. A receiver holding `base` applies it; one holding less asks for the whole entry.
 */
export interface Delta {
  readonly node: NodeId
  readonly base: number
  readonly version: number
  /** Replaces the addresses when present. */
  readonly addrs?: readonly string[]
  /** Cluster -> members; 0 removes the cluster. */
  readonly clusters?: ReadonlyArray<readonly [string, number]>
  /** Topic -> present; false removes it. */
  readonly topics?: ReadonlyArray<readonly [string, boolean]>
}

/** "`from` declares `node` suspect or dead at its entry `version`." */
export interface StatusNote {
  readonly node: NodeId
  readonly version: number
  readonly status: typeof Liveness.suspect | typeof Liveness.dead
  readonly from: NodeId
}

/** One item of a digest detail: what a relay holds about `node`. */
export interface DigestItem {
  readonly node: NodeId
  readonly version: number
  readonly statusVersion: number
  readonly status: Liveness
}

/** Messages between two relays (docs/protocol.md gives each one's meaning). */
export type ControlMessage =
  | { readonly t: 'ping'; readonly seq: number; readonly degree: number; readonly neighbors?: readonly NodeId[] }
  | { readonly t: 'pong'; readonly seq: number }
  | { readonly t: 'neighbor'; readonly high: boolean }
  | { readonly t: 'neighbor-reply'; readonly accepted: boolean }
  | { readonly t: 'disconnect' }
  | { readonly t: 'probe-req'; readonly node: NodeId; readonly seq: number }
  | { readonly t: 'probe'; readonly seq: number }
  | { readonly t: 'probe-ack'; readonly seq: number }
  | { readonly t: 'probe-reply'; readonly node: NodeId; readonly seq: number; readonly alive: boolean }
  | { readonly t: 'sync' }
  | { readonly t: 'gossip'; readonly deltas: readonly Delta[]; readonly notes: readonly StatusNote[]; readonly sync?: boolean }
  | { readonly t: 'digest'; readonly buckets: Uint32Array }
  | { readonly t: 'digest-detail'; readonly buckets: readonly number[]; readonly items: readonly DigestItem[] }
  | { readonly t: 'pull'; readonly nodes: readonly NodeId[] }

/** Limits a decoder enforces (an encoder refuses to exceed them too). */
export const CONTROL_LIMITS = {
  /** Deltas + notes, items, or node ids in one message. */
  maxItems: 4096,
  /** Addresses per entry, and bytes per address. */
  maxAddrs: 32,
  maxAddrBytes: 1024,
  /** Clusters or topics changed by one delta (a whole entry included). */
  maxNames: 65_536,
  /** Neighbors listed in a ping. */
  maxNeighbors: 64,
  maxBuckets: 256,
} as const

const KIND = {
  ping: 1, neighbor: 2, 'neighbor-reply': 3, disconnect: 4, 'probe-req': 5, probe: 6, 'probe-ack': 7,
  'probe-reply': 8, sync: 9, gossip: 10, digest: 11, 'digest-detail': 12, pull: 13, pong: 14,
} as const satisfies Record<ControlMessage['t'], number>

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function invalid(message: string): WireError {
  return new WireError(ErrorCode.invalid, message)
}

/** A growable big-endian writer. */
class Writer {
  buf = new Uint8Array(256)
  len = 0
  private view = new DataView(this.buf.buffer)

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return
    let size = this.buf.length * 2
    while (size < this.len + n) size *= 2
    const b = new Uint8Array(size)
    b.set(this.buf.subarray(0, this.len))
    this.buf = b
    this.view = new DataView(b.buffer)
  }

  u8(v: number): void {
    this.room(1)
    this.buf[this.len++] = v & 0xff
  }

  u32(v: number): void {
    this.room(4)
    this.view.setUint32(this.len, v >>> 0)
    this.len += 4
  }

  /** Unsigned integers up to 2^53, 7 bits a byte. */
  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(`not a count or sequence number: ${v}`)
    while (v >= 0x80) {
      this.u8((v % 0x80) | 0x80)
      v = Math.floor(v / 0x80)
    }
    this.u8(v)
  }

  /** Versions: unsigned integers below 2^53, as a float64. */
  version(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(`not a version: ${v}`)
    this.room(8)
    this.view.setFloat64(this.len, v)
    this.len += 8
  }

  bytes(b: Uint8Array): void {
    this.room(b.length)
    this.buf.set(b, this.len)
    this.len += b.length
  }

  /** A name (node id, cluster, topic): u8 length, 1..255 bytes of UTF-8. */
  name(s: string): void {
    const b = utf8.encode(s)
    if (b.length === 0 || b.length > MAX_NAME_BYTES) throw invalid(`name of ${b.length} bytes (1..${MAX_NAME_BYTES})`)
    this.u8(b.length)
    this.bytes(b)
  }

  /** An address: u16 length. */
  addr(s: string): void {
    const b = utf8.encode(s)
    if (b.length > CONTROL_LIMITS.maxAddrBytes) throw invalid(`address of ${b.length} bytes`)
    this.u8(b.length >> 8)
    this.u8(b.length & 0xff)
    this.bytes(b)
  }

  count(n: number, max: number, what: string): void {
    if (n > max) throw invalid(`${n} ${what} (at most ${max})`)
    this.varint(n)
  }
}

/** A bounds-checked big-endian reader. */
class Reader {
  private at = 0
  private readonly view: DataView
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  private need(n: number): void {
    if (this.at + n > this.buf.length) throw new WireError(ErrorCode.protocol, 'control message truncated')
  }

  u8(): number {
    this.need(1)
    return this.buf[this.at++]!
  }

  u32(): number {
    this.need(4)
    const v = this.view.getUint32(this.at)
    this.at += 4
    return v
  }

  varint(): number {
    let v = 0
    let scale = 1
    for (let k = 0; k < 8; k++) {
      const b = this.u8()
      v += (b & 0x7f) * scale
      if ((b & 0x80) === 0) {
        // One encoding per number: a trailing zero byte would be a second one.
        if (b === 0 && k > 0) throw new WireError(ErrorCode.protocol, 'overlong varint')
        if (!Number.isSafeInteger(v)) throw new WireError(ErrorCode.protocol, 'varint too large')
        return v
      }
      scale *= 0x80
    }
    throw new WireError(ErrorCode.protocol, 'varint too long')
  }

  version(): number {
    this.need(8)
    const v = this.view.getFloat64(this.at)
    this.at += 8
    if (!Number.isSafeInteger(v) || v < 0 || Object.is(v, -0)) throw new WireError(ErrorCode.protocol, 'malformed version')
    return v
  }

  private text(n: number, what: string): string {
    this.need(n)
    const b = this.buf.subarray(this.at, this.at + n)
    this.at += n
    try {
      return fromUtf8.decode(b)
    } catch {
      throw new WireError(ErrorCode.protocol, `${what} is not valid UTF-8`)
    }
  }

  name(): string {
    const n = this.u8()
    if (n === 0) throw new WireError(ErrorCode.protocol, 'empty name')
    return this.text(n, 'name')
  }

  addr(): string {
    const n = (this.u8() << 8) | this.u8()
    if (n > CONTROL_LIMITS.maxAddrBytes) throw new WireError(ErrorCode.protocol, 'address too long')
    return this.text(n, 'address')
  }

  count(max: number, what: string): number {
    const n = this.varint()
    if (n > max) throw new WireError(ErrorCode.limit, `${n} ${what} (at most ${max})`)
    return n
  }

  bool(): boolean {
    const b = this.u8()
    if (b > 1) throw new WireError(ErrorCode.protocol, 'malformed flag')
    return b === 1
  }

  end(): void {
    if (this.at !== this.buf.length) throw new WireError(ErrorCode.protocol, 'trailing bytes in a control message')
  }
}

const HAS_ADDRS = 1
const HAS_CLUSTERS = 2
const HAS_TOPICS = 4

function writeDelta(w: Writer, d: Delta): void {
  w.name(d.node)
  w.version(d.base)
  w.version(d.version)
  w.u8((d.addrs !== undefined ? HAS_ADDRS : 0) | (d.clusters !== undefined ? HAS_CLUSTERS : 0) | (d.topics !== undefined ? HAS_TOPICS : 0))
  if (d.addrs !== undefined) {
    w.count(d.addrs.length, CONTROL_LIMITS.maxAddrs, 'addresses')
    for (const a of d.addrs) w.addr(a)
  }
  if (d.clusters !== undefined) {
    w.count(d.clusters.length, CONTROL_LIMITS.maxNames, 'clusters')
    for (const [name, members] of d.clusters) {
      w.name(name)
      w.varint(members)
    }
  }
  if (d.topics !== undefined) {
    w.count(d.topics.length, CONTROL_LIMITS.maxNames, 'topics')
    for (const [name, on] of d.topics) {
      w.name(name)
      w.u8(on ? 1 : 0)
    }
  }
}

function readDelta(r: Reader): Delta {
  const node = r.name()
  const base = r.version()
  const version = r.version()
  if (version <= base) throw new WireError(ErrorCode.protocol, 'a delta must raise the version')
  const flags = r.u8()
  if (flags > 7) throw new WireError(ErrorCode.protocol, 'malformed delta flags')
  let addrs: string[] | undefined
  let clusters: Array<[string, number]> | undefined
  let topics: Array<[string, boolean]> | undefined
  if ((flags & HAS_ADDRS) !== 0) {
    const n = r.count(CONTROL_LIMITS.maxAddrs, 'addresses')
    addrs = []
    for (let k = 0; k < n; k++) addrs.push(r.addr())
  }
  if ((flags & HAS_CLUSTERS) !== 0) {
    const n = r.count(CONTROL_LIMITS.maxNames, 'clusters')
    clusters = []
    for (let k = 0; k < n; k++) clusters.push([r.name(), r.varint()])
  }
  if ((flags & HAS_TOPICS) !== 0) {
    const n = r.count(CONTROL_LIMITS.maxNames, 'topics')
    topics = []
    for (let k = 0; k < n; k++) topics.push([r.name(), r.bool()])
  }
  return {
    node, base, version,
    ...(addrs !== undefined ? { addrs } : {}),
    ...(clusters !== undefined ? { clusters } : {}),
    ...(topics !== undefined ? { topics } : {}),
  }
}

function readStatus(r: Reader): typeof Liveness.suspect | typeof Liveness.dead {
  const s = r.u8()
  if (s !== Liveness.suspect && s !== Liveness.dead) throw new WireError(ErrorCode.protocol, 'malformed status')
  return s
}

/** Encodes one control message (the body of a CONTROL frame). */
export function encodeControl(m: ControlMessage): Uint8Array {
  const w = new Writer()
  w.u8(KIND[m.t])
  switch (m.t) {
    case 'ping':
      w.varint(m.seq)
      w.varint(m.degree)
      w.u8(m.neighbors !== undefined ? 1 : 0)
      if (m.neighbors !== undefined) {
        w.count(m.neighbors.length, CONTROL_LIMITS.maxNeighbors, 'neighbors')
        for (const n of m.neighbors) w.name(n)
      }
      break
    case 'neighbor': w.u8(m.high ? 1 : 0); break
    case 'neighbor-reply': w.u8(m.accepted ? 1 : 0); break
    case 'disconnect': case 'sync': break
    case 'probe-req': w.name(m.node); w.varint(m.seq); break
    case 'probe': case 'probe-ack': case 'pong': w.varint(m.seq); break
    case 'probe-reply': w.name(m.node); w.varint(m.seq); w.u8(m.alive ? 1 : 0); break
    case 'gossip':
      w.u8(m.sync === true ? 1 : 0)
      w.count(m.deltas.length + m.notes.length, CONTROL_LIMITS.maxItems, 'items')
      w.varint(m.deltas.length)
      for (const d of m.deltas) writeDelta(w, d)
      w.varint(m.notes.length)
      for (const n of m.notes) {
        w.name(n.node)
        w.version(n.version)
        w.u8(n.status)
        w.name(n.from)
      }
      break
    case 'digest':
      w.count(m.buckets.length, CONTROL_LIMITS.maxBuckets, 'buckets')
      for (const b of m.buckets) w.u32(b)
      break
    case 'digest-detail':
      w.count(m.buckets.length, CONTROL_LIMITS.maxBuckets, 'buckets')
      for (const b of m.buckets) w.varint(b)
      w.count(m.items.length, CONTROL_LIMITS.maxItems, 'items')
      for (const it of m.items) {
        w.name(it.node)
        w.version(it.version)
        w.version(it.statusVersion)
        w.u8(it.status)
      }
      break
    case 'pull':
      w.count(m.nodes.length, CONTROL_LIMITS.maxItems, 'nodes')
      for (const n of m.nodes) w.name(n)
      break
  }
  return w.buf.slice(0, w.len)
}

/** Decodes one control message; throws WireError on anything malformed. */
export function decodeControl(body: Uint8Array): ControlMessage {
  const r = new Reader(body)
  const m = readMessage(r)
  r.end()
  return m
}

function readMessage(r: Reader): ControlMessage {
  const kind = r.u8()
  switch (kind) {
    case KIND.ping: {
      const seq = r.varint()
      const degree = r.varint()
      if (!r.bool()) return { t: 'ping', seq, degree }
      const n = r.count(CONTROL_LIMITS.maxNeighbors, 'neighbors')
      const neighbors: string[] = []
      for (let k = 0; k < n; k++) neighbors.push(r.name())
      return { t: 'ping', seq, degree, neighbors }
    }
    case KIND.neighbor: return { t: 'neighbor', high: r.bool() }
    case KIND['neighbor-reply']: return { t: 'neighbor-reply', accepted: r.bool() }
    case KIND.disconnect: return { t: 'disconnect' }
    case KIND.sync: return { t: 'sync' }
    case KIND['probe-req']: return { t: 'probe-req', node: r.name(), seq: r.varint() }
    case KIND.probe: return { t: 'probe', seq: r.varint() }
    case KIND['probe-ack']: return { t: 'probe-ack', seq: r.varint() }
    case KIND.pong: return { t: 'pong', seq: r.varint() }
    case KIND['probe-reply']: return { t: 'probe-reply', node: r.name(), seq: r.varint(), alive: r.bool() }
    case KIND.gossip: {
      const sync = r.bool()
      const total = r.count(CONTROL_LIMITS.maxItems, 'items')
      const nd = r.count(total, 'deltas')
      const deltas: Delta[] = []
      for (let k = 0; k < nd; k++) deltas.push(readDelta(r))
      const nn = r.count(total - nd, 'notes')
      if (nd + nn !== total) throw new WireError(ErrorCode.protocol, 'gossip item counts disagree')
      const notes: StatusNote[] = []
      for (let k = 0; k < nn; k++) notes.push({ node: r.name(), version: r.version(), status: readStatus(r), from: r.name() })
      return sync ? { t: 'gossip', deltas, notes, sync: true } : { t: 'gossip', deltas, notes }
    }
    case KIND.digest: {
      const n = r.count(CONTROL_LIMITS.maxBuckets, 'buckets')
      const buckets = new Uint32Array(n)
      for (let k = 0; k < n; k++) buckets[k] = r.u32()
      return { t: 'digest', buckets }
    }
    case KIND['digest-detail']: {
      const nb = r.count(CONTROL_LIMITS.maxBuckets, 'buckets')
      const buckets: number[] = []
      for (let k = 0; k < nb; k++) buckets.push(r.count(CONTROL_LIMITS.maxBuckets - 1, 'bucket index'))
      const ni = r.count(CONTROL_LIMITS.maxItems, 'items')
      const items: DigestItem[] = []
      for (let k = 0; k < ni; k++) {
        const node = r.name()
        const version = r.version()
        const statusVersion = r.version()
        const status = r.u8()
        if (status > Liveness.dead) throw new WireError(ErrorCode.protocol, 'malformed status')
        items.push({ node, version, statusVersion, status: status as Liveness })
      }
      return { t: 'digest-detail', buckets, items }
    }
    case KIND.pull: {
      const n = r.count(CONTROL_LIMITS.maxItems, 'nodes')
      const nodes: string[] = []
      for (let k = 0; k < n; k++) nodes.push(r.name())
      return { t: 'pull', nodes }
    }
    default:
      throw new WireError(ErrorCode.protocol, `unknown control message kind ${kind}`)
  }
}
