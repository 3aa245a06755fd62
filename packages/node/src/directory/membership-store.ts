import {
  EMPTY_DATA, Liveness, type Delta, type DigestItem, type NodeData, type NodeId, type MembershipListener, type StatusNote,
} from './membership-types.js'

/**
 * Node ids as small integers. A relay has its own; the simulator shares one among ten
 * thousand simulated relays so that their directories are arrays, not ten thousand maps.
 */
export class NodeInterner {
  private readonly ids: NodeId[] = []
  private readonly hashes: number[] = []
  private readonly index = new Map<NodeId, number>()

  intern(id: NodeId): number {
    let i = this.index.get(id)
    if (i === undefined) {
      i = this.ids.length
      this.ids.push(id)
      this.hashes.push(hashString(id))
      this.index.set(id, i)
    }
    return i
  }

  lookup(id: NodeId): number | undefined {
    return this.index.get(id)
  }

  id(i: number): NodeId {
    return this.ids[i]!
  }

  hash(i: number): number {
    return this.hashes[i]!
  }

  get size(): number {
    return this.ids.length
  }
}

const PRESENT = 1
const LOCAL_DEAD = 2

export type DeltaResult = 'new' | 'dup' | 'gap' | 'full'
export type NoteResult = 'new' | 'confirm' | 'dup' | 'stale' | 'unknown'

/**
 * The replicated directory as one relay holds it: per relay, its entry (data at a version)
 * and its liveness (alive / suspect / dead at a version). A state-based CRDT: for one relay,
 * a higher version wins, and at one version dead > suspect > alive, so any order or repetition
 * of deltas and notes gives the same state; a relay refutes a suspicion by publishing a higher
 * version. Struct-of-arrays (typed arrays indexed by interned node), so ten thousand entries
 * cost a few hundred kilobytes, and the digest of bucket hashes is kept up to date per change.
 * No I/O, no timers: times are passed in.
 */
export class MembershipStore {
  readonly interner: NodeInterner
  private readonly listener: MembershipListener
  private readonly maxNodes: number
  private readonly bucketCount: number
  private capacity = 0
  private flags = new Uint8Array(0)
  private status = new Uint8Array(0)
  private version = new Float64Array(0)
  private statusVersion = new Float64Array(0)
  private changedAt = new Float64Array(0)
  private hashes = new Uint32Array(0)
  private data: Array<NodeData | undefined> = []
  private readonly suspecters = new Map<number, Set<NodeId>>()
  private readonly bucketHash: Uint32Array
  /** Relays present (any liveness). */
  count = 0

  constructor(init: { interner?: NodeInterner; listener?: MembershipListener; maxNodes: number; buckets: number }) {
    this.interner = init.interner ?? new NodeInterner()
    this.listener = init.listener ?? {}
    this.maxNodes = init.maxNodes
    this.bucketCount = init.buckets
    this.bucketHash = new Uint32Array(init.buckets)
  }

  // ---- reading ----------------------------------------------------------------------

  private slot(node: NodeId): number | undefined {
    const i = this.interner.lookup(node)
    return i !== undefined && i < this.capacity && (this.flags[i]! & PRESENT) !== 0 ? i : undefined
  }

  has(node: NodeId): boolean {
    return this.slot(node) !== undefined
  }

  versionOf(node: NodeId): number {
    const i = this.slot(node)
    return i === undefined ? 0 : this.version[i]!
  }

  /** The version its liveness is at (a status may be about a version newer than the data we hold). */
  keyVersionOf(node: NodeId): number {
    const i = this.slot(node)
    return i === undefined ? 0 : Math.max(this.version[i]!, this.statusVersion[i]!)
  }

  dataOf(node: NodeId): NodeData | undefined {
    const i = this.slot(node)
    return i === undefined ? undefined : this.data[i]
  }

  /** Liveness in effect: a status applies to its version only; a newer version is alive. */
  livenessOf(node: NodeId): Liveness | undefined {
    const i = this.slot(node)
    return i === undefined ? undefined : this.effective(i)
  }

  private effective(i: number): Liveness {
    return this.statusVersion[i]! >= this.version[i]! ? (this.status[i]! as Liveness) : Liveness.alive
  }

  /** In the view: alive or suspected, and not cut off by our own evidence. */
  inView(node: NodeId): boolean {
    const i = this.slot(node)
    return i !== undefined && this.inViewAt(i)
  }

  private inViewAt(i: number): boolean {
    return (this.flags[i]! & (PRESENT | LOCAL_DEAD)) === PRESENT && this.data[i] !== undefined && this.effective(i) !== Liveness.dead
  }

  suspecterCount(node: NodeId): number {
    const i = this.slot(node)
    return i === undefined ? 0 : (this.suspecters.get(i)?.size ?? 0)
  }

  isLocalDead(node: NodeId): boolean {
    const i = this.slot(node)
    return i !== undefined && (this.flags[i]! & LOCAL_DEAD) !== 0
  }

  /** Every relay in the view (O(directory): for status pages and tests, not per message). */
  view(): NodeId[] {
    const out: NodeId[] = []
    for (let i = 0; i < this.capacity; i++) if (this.inViewAt(i)) out.push(this.interner.id(i))
    return out
  }

  /** Every relay present, with liveness (O(directory)). */
  *entries(): Generator<{ node: NodeId; version: number; liveness: Liveness; localDead: boolean; data: NodeData | undefined }> {
    for (let i = 0; i < this.capacity; i++) {
      if ((this.flags[i]! & PRESENT) === 0) continue
      yield {
        node: this.interner.id(i), version: this.version[i]!, liveness: this.effective(i),
        localDead: (this.flags[i]! & LOCAL_DEAD) !== 0, data: this.data[i],
      }
    }
  }

  /**
   * A random relay accepted by `accept`, found by probing random slots (O(1) expected when
   * most slots are in use); undefined after `tries` misses.
   */
  randomNode(random: () => number, accept: (node: NodeId, inView: boolean, localDead: boolean) => boolean, tries = 32): NodeId | undefined {
    if (this.count === 0) return undefined
    for (let k = 0; k < tries; k++) {
      const i = Math.floor(random() * this.capacity)
      if ((this.flags[i]! & PRESENT) === 0) continue
      const node = this.interner.id(i)
      if (accept(node, this.inViewAt(i), (this.flags[i]! & LOCAL_DEAD) !== 0)) return node
    }
    return undefined
  }

  // ---- merging ----------------------------------------------------------------------

  private ensure(i: number): void {
    if (i < this.capacity) return
    let cap = Math.max(16, this.capacity * 2)
    while (cap <= i) cap *= 2
    this.ensureExactly(cap)
  }

  private ensureExactly(cap: number): void {
    const grow = <T extends Uint8Array | Float64Array | Uint32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap)
      b.set(a as never)
      return b
    }
    this.flags = grow(this.flags, (n) => new Uint8Array(n))
    this.status = grow(this.status, (n) => new Uint8Array(n))
    this.version = grow(this.version, (n) => new Float64Array(n))
    this.statusVersion = grow(this.statusVersion, (n) => new Float64Array(n))
    this.changedAt = grow(this.changedAt, (n) => new Float64Array(n))
    this.hashes = grow(this.hashes, (n) => new Uint32Array(n))
    this.capacity = cap
  }

  /** Room for `n` nodes (the simulator sizes every directory once). */
  reserve(n: number): void {
    if (n > this.capacity) this.ensureExactly(n)
  }

  /** Puts an entry in place without events (a simulator's converged start). */
  seed(node: NodeId, version: number, data: NodeData, now: number): void {
    this.seedAt(this.interner.intern(node), version, data, now)
  }

  /**
   * seed() by interned index (ten thousand directories of ten thousand entries each);
   * `hash` is what rehash() would compute (the same in every directory), when known.
   */
  seedAt(i: number, version: number, data: NodeData, now: number, hash?: number): void {
    this.ensure(i)
    if ((this.flags[i]! & PRESENT) === 0) this.count++
    else this.xorBucket(this.interner.hash(i) % this.bucketCount, this.hashes[i]!)
    this.flags[i] = PRESENT
    this.status[i] = Liveness.alive
    this.statusVersion[i] = 0
    this.version[i] = version
    this.changedAt[i] = now
    this.hashes[i] = 0
    this.data[i] = data
    if (hash === undefined) {
      this.rehash(i)
    } else {
      this.hashes[i] = hash
      this.xorBucket(this.interner.hash(i) % this.bucketCount, hash)
    }
  }

  /** The digest contribution of `node`'s current state (see rehash). */
  hashOf(node: NodeId): number | undefined {
    const i = this.slot(node)
    return i === undefined ? undefined : this.hashes[i]
  }

  /** Applies a delta: 'new' (applied), 'dup' (already held), 'gap' (we lack its base: pull), 'full'. */
  applyDelta(d: Delta, now: number): DeltaResult {
    let i = this.slot(d.node)
    if (i !== undefined && this.version[i]! >= d.version) return 'dup'
    if (d.base !== 0 && (i === undefined || this.version[i] !== d.base || this.data[i] === undefined)) return 'gap'
    if (i === undefined) {
      if (this.count >= this.maxNodes) return 'full'
      i = this.interner.intern(d.node)
      this.ensure(i)
      this.flags[i] = PRESENT
      this.status[i] = Liveness.alive
      this.statusVersion[i] = 0
      this.version[i] = 0
      this.changedAt[i] = now
      this.hashes[i] = 0
      this.data[i] = undefined
      this.count++
    }
    const wasInView = this.inViewAt(i)
    const wasSuspected = wasInView && this.effective(i) === Liveness.suspect
    const before = this.data[i]
    const after = d.base === 0 ? fromDelta(d) : patch(before ?? EMPTY_DATA, d)
    this.version[i] = d.version
    this.data[i] = after
    // A newer version supersedes any status of an older one: the relay is alive (it refuted
    // a suspicion, or came back after being declared dead), and our own verdict is moot.
    if (this.statusVersion[i]! < d.version) {
      // Normalised, so that equal directories hash equal whatever order brought them.
      this.statusVersion[i] = 0
      this.status[i] = Liveness.alive
      this.suspecters.delete(i)
    }
    this.flags[i] = PRESENT
    this.changedAt[i] = now
    this.rehash(i)
    // Only what is in the view is reported: an entry still dead (a verdict about a version at
    // least as new as this delta) must not reach the router's index.
    if (this.inViewAt(i)) this.listener.data?.(d.node, wasInView ? before : undefined, after)
    if (wasSuspected && this.effective(i) === Liveness.alive) this.listener.suspect?.(d.node, false)
    return 'new'
  }

  /** Applies a suspect/dead note: 'new' (status advanced), 'confirm' (another suspecter), or no change. */
  applyNote(n: StatusNote, now: number): NoteResult {
    const i = this.slot(n.node)
    if (i === undefined) return 'unknown'
    if (n.version < this.version[i]!) return 'stale'
    const curVersion = this.statusVersion[i]! >= this.version[i]! ? this.statusVersion[i]! : this.version[i]!
    const cur = this.effective(i)
    if (n.version === curVersion && n.status === cur) {
      if (n.status !== Liveness.suspect) return 'dup'
      const set = this.suspecters.get(i)
      if (set === undefined || set.has(n.from)) return 'dup'
      if (set.size < 64) set.add(n.from)
      return 'confirm'
    }
    if (n.version < curVersion || (n.version === curVersion && n.status < cur)) return 'dup'
    const wasInView = this.inViewAt(i)
    this.statusVersion[i] = n.version
    this.status[i] = n.status
    this.changedAt[i] = now
    if (n.status === Liveness.suspect) this.suspecters.set(i, new Set([n.from]))
    else this.suspecters.delete(i)
    this.rehash(i)
    if (n.status === Liveness.dead) {
      if (wasInView) this.listener.down?.(n.node, this.data[i] ?? EMPTY_DATA)
    } else if (wasInView) {
      this.listener.suspect?.(n.node, true)
    }
    return 'new'
  }

  /**
   * Takes `node` out of our view on our own evidence only (we were cut off from every
   * neighbor, so we cannot have the verdict confirmed): nothing is gossiped, and any sign of
   * life clears it (clearLocalDead).
   */
  markLocalDead(node: NodeId): void {
    const i = this.slot(node)
    if (i === undefined || (this.flags[i]! & LOCAL_DEAD) !== 0) return
    const wasInView = this.inViewAt(i)
    this.flags[i] = this.flags[i]! | LOCAL_DEAD
    if (wasInView) this.listener.down?.(node, this.data[i] ?? EMPTY_DATA)
  }

  clearLocalDead(node: NodeId): void {
    const i = this.slot(node)
    if (i === undefined || (this.flags[i]! & LOCAL_DEAD) === 0) return
    this.flags[i] = this.flags[i]! & ~LOCAL_DEAD
    if (this.inViewAt(i)) this.listener.data?.(node, undefined, this.data[i]!)
  }

  /** Forgets dead entries older than `tombstoneMs` (after that, a stale delta could not resurrect them: it died out). */
  sweep(now: number, tombstoneMs: number, keep: NodeId): number {
    let forgotten = 0
    for (let i = 0; i < this.capacity; i++) {
      if ((this.flags[i]! & PRESENT) === 0 || this.effective(i) !== Liveness.dead) continue
      if (now - this.changedAt[i]! < tombstoneMs || this.interner.id(i) === keep) continue
      this.xorBucket(this.interner.hash(i) % this.bucketCount, this.hashes[i]!)
      this.flags[i] = 0
      this.data[i] = undefined
      this.suspecters.delete(i)
      this.count--
      forgotten++
    }
    return forgotten
  }

  // ---- anti-entropy -----------------------------------------------------------------

  private xorBucket(b: number, h: number): void {
    this.bucketHash[b] = (this.bucketHash[b]! ^ h) >>> 0
  }

  private rehash(i: number): void {
    const b = this.interner.hash(i) % this.bucketCount
    this.xorBucket(b, this.hashes[i]!)
    const v = this.version[i]!
    const sv = this.statusVersion[i]!
    let h = mix(this.interner.hash(i) ^ mix(v % 0x100000000) ^ mix(Math.floor(v / 0x100000000) + 0x9e3779b9))
    h = mix(h ^ mix(sv % 0x100000000) ^ mix(Math.floor(sv / 0x100000000) + 0x7f4a7c15) ^ (this.effective(i) * 0x85ebca6b))
    this.hashes[i] = h
    this.xorBucket(b, h)
  }

  /** One hash per bucket (a copy). Equal digests mean equal directories, up to hash collisions. */
  digest(): Uint32Array {
    return this.bucketHash.slice()
  }

  /** What we hold about `node`, as a digest item. */
  item(node: NodeId): DigestItem | undefined {
    const i = this.slot(node)
    if (i === undefined) return undefined
    return { node, version: this.version[i]!, statusVersion: this.statusVersion[i]!, status: this.status[i]! as Liveness }
  }

  /** Buckets whose hashes differ from `other`'s. */
  differingBuckets(other: Uint32Array): number[] {
    const out: number[] = []
    if (other.length !== this.bucketCount) return out
    for (let b = 0; b < this.bucketCount; b++) if (other[b] !== this.bucketHash[b]) out.push(b)
    return out
  }

  /** What we hold in the given buckets. */
  detail(buckets: readonly number[]): DigestItem[] {
    const want = new Set(buckets)
    const out: DigestItem[] = []
    for (let i = 0; i < this.capacity; i++) {
      if ((this.flags[i]! & PRESENT) === 0 || !want.has(this.interner.hash(i) % this.bucketCount)) continue
      out.push({ node: this.interner.id(i), version: this.version[i]!, statusVersion: this.statusVersion[i]!, status: this.status[i]! as Liveness })
    }
    return out
  }

  bucketOf(node: NodeId): number {
    return hashString(node) % this.bucketCount
  }

  /** The whole entry of `node` as a delta from nothing, and its status note if any. */
  full(node: NodeId): { delta: Delta | undefined; note: StatusNote | undefined } {
    const i = this.slot(node)
    if (i === undefined) return { delta: undefined, note: undefined }
    const data = this.data[i]
    const delta = data === undefined ? undefined : toDelta(node, this.version[i]!, data)
    const st = this.status[i]!
    const note: StatusNote | undefined = st !== Liveness.alive && this.statusVersion[i]! >= this.version[i]!
      ? { node, version: this.statusVersion[i]!, status: st as typeof Liveness.suspect | typeof Liveness.dead, from: [...(this.suspecters.get(i) ?? [node])][0] ?? node }
      : undefined
    return { delta, note }
  }

  /** Every node present (for a state transfer). */
  nodes(): NodeId[] {
    const out: NodeId[] = []
    for (let i = 0; i < this.capacity; i++) if ((this.flags[i]! & PRESENT) !== 0) out.push(this.interner.id(i))
    return out
  }
}

function fromDelta(d: Delta): NodeData {
  const clusters = new Map<string, number>()
  for (const [name, members] of d.clusters ?? []) if (members > 0) clusters.set(name, members)
  const topics = new Set<string>()
  for (const [name, on] of d.topics ?? []) if (on) topics.add(name)
  return { addrs: [...(d.addrs ?? [])], clusters, topics }
}

function patch(base: NodeData, d: Delta): NodeData {
  let clusters = base.clusters
  if (d.clusters !== undefined && d.clusters.length > 0) {
    const m = new Map(base.clusters)
    for (const [name, members] of d.clusters) {
      if (members > 0) m.set(name, members)
      else m.delete(name)
    }
    clusters = m
  }
  let topics = base.topics
  if (d.topics !== undefined && d.topics.length > 0) {
    const s = new Set(base.topics)
    for (const [name, on] of d.topics) {
      if (on) s.add(name)
      else s.delete(name)
    }
    topics = s
  }
  return { addrs: d.addrs !== undefined ? [...d.addrs] : base.addrs, clusters, topics }
}

/** The whole of `data` as a delta from nothing. */
export function toDelta(node: NodeId, version: number, data: NodeData): Delta {
  return { node, base: 0, version, addrs: data.addrs, clusters: [...data.clusters], topics: [...data.topics].map((t) => [t, true] as const) }
}

/** The changes from `a` to `b`, as a delta from version `base` to `version`. */
export function diffData(node: NodeId, base: number, version: number, a: NodeData, b: NodeData): Delta {
  const clusters: Array<[string, number]> = []
  for (const [name, members] of b.clusters) if (a.clusters.get(name) !== members) clusters.push([name, members])
  for (const name of a.clusters.keys()) if (!b.clusters.has(name)) clusters.push([name, 0])
  const topics: Array<[string, boolean]> = []
  for (const t of b.topics) if (!a.topics.has(t)) topics.push([t, true])
  for (const t of a.topics) if (!b.topics.has(t)) topics.push([t, false])
  const sameAddrs = a.addrs.length === b.addrs.length && a.addrs.every((x, k) => x === b.addrs[k])
  return {
    node, base, version,
    ...(sameAddrs ? {} : { addrs: b.addrs }),
    ...(clusters.length > 0 ? { clusters } : {}),
    ...(topics.length > 0 ? { topics } : {}),
  }
}

/** FNV-1a, 32 bits. */
export function hashString(s: string): number {
  let h = 0x811c9dc5
  for (let k = 0; k < s.length; k++) {
    h ^= s.charCodeAt(k)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

/** murmur3's finaliser: spreads the bits of a 32-bit value. */
function mix(x: number): number {
  let h = x >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}
