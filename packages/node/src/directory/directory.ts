/**
 * directory/ — which relay serves what: the replicated directory (this file, a pure CRDT),
 * its gossip (gossip.ts) and the index the router reads (remote-index.ts).
 * May import: peers/, overlay/, clock, constants, @herald/wire. Never routing/ or clients/.
 *
 * The directory: every relay's view of which relays host members of which cluster and
 * subscribers of which topic. Each relay is the single writer of its own entry; entries
 * spread by gossip. The state is a join-semilattice (a state-based CRDT): per node, the
 * entry with the higher version wins, and at equal versions a tombstone wins. So merge is
 * commutative, associative and idempotent, and every view converges once gossip stops.
 * No I/O here: gossip.ts moves entries, this file only keeps and merges them.
 */
import { MAX_ENTRY_ADDR_CHARS, MAX_ENTRY_ADDRS, MAX_ENTRY_ITEMS, MAX_NAME_BYTES, MAX_VERSION_AHEAD_MS } from '@herald/wire'

export interface ClusterLoad {
  members: number
  /** Requests in flight at this relay's members. */
  load: number
}

export interface DirectoryEntry {
  node: string
  /** The owner's counter; restarts continue above the last value (it starts from the clock). */
  version: number
  /** A tombstone: the node was seen to die at this version. A newer version revives it. */
  dead?: true
  addrs: string[]
  clusters: Record<string, ClusterLoad>
  topics: string[]
}

/** The lattice order: which of two entries of the same node wins. */
export function newer(a: DirectoryEntry, b: DirectoryEntry): DirectoryEntry {
  if (a.version !== b.version) return a.version > b.version ? a : b
  if ((a.dead === true) !== (b.dead === true)) return a.dead === true ? a : b
  // Same version, same liveness: only one writer, so equal content; order deterministically anyway.
  return JSON.stringify(a) >= JSON.stringify(b) ? a : b
}

export type DirectoryState = ReadonlyMap<string, DirectoryEntry>

/** Merges two states (pointwise `newer`). Commutative, associative, idempotent. */
export function mergeStates(a: DirectoryState, b: DirectoryState): Map<string, DirectoryEntry> {
  const out = new Map(a)
  for (const [node, e] of b) {
    const mine = out.get(node)
    out.set(node, mine === undefined ? e : newer(mine, e))
  }
  return out
}

/** A libp2p peer id as text (base58btc or base32 CID): letters and digits only. */
const NODE_ID = /^[A-Za-z0-9]{1,128}$/

/**
 * Versions are the owner's clock in ms × 1000 plus a counter. A version far in the future is
 * forged: accepting it would let one bad peer silence a relay (its answer, version + 1, would
 * have to be even larger, and past 2^53 no answer is possible).
 */
export function maxPlausibleVersion(now: number): number {
  return (now + MAX_VERSION_AHEAD_MS) * 1000
}

/** Checks an entry received from a peer: a bad one is rejected, never merged. */
export function validEntry(x: unknown, maxVersion = Number.MAX_SAFE_INTEGER): x is DirectoryEntry {
  if (typeof x !== 'object' || x === null) return false
  const e = x as Record<string, unknown>
  if (typeof e['node'] !== 'string' || !NODE_ID.test(e['node'])) return false
  if (typeof e['version'] !== 'number' || !Number.isSafeInteger(e['version']) || e['version'] < 0 || e['version'] > maxVersion) return false
  if (e['dead'] !== undefined && e['dead'] !== true) return false
  if (!Array.isArray(e['addrs']) || e['addrs'].length > MAX_ENTRY_ADDRS || !e['addrs'].every((a) => typeof a === 'string' && a.length < MAX_ENTRY_ADDR_CHARS)) return false
  if (!Array.isArray(e['topics']) || e['topics'].length > MAX_ENTRY_ITEMS || !e['topics'].every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_NAME_BYTES)) return false
  const c = e['clusters']
  if (typeof c !== 'object' || c === null || Array.isArray(c)) return false
  const names = Object.keys(c)
  if (names.length > MAX_ENTRY_ITEMS) return false
  for (const n of names) {
    if (n.length === 0 || n.length > MAX_NAME_BYTES) return false
    const v = (c as Record<string, unknown>)[n] as Record<string, unknown> | null
    if (typeof v !== 'object' || v === null) return false
    if (!Number.isSafeInteger(v['members']) || (v['members'] as number) < 0) return false
    if (!Number.isSafeInteger(v['load']) || (v['load'] as number) < 0) return false
  }
  return true
}

export interface DirectoryInit {
  self: string
  /** An entry not refreshed for this long is left out of the view (missed heartbeats). */
  expiryMs: number
  /** Tombstones, and entries not refreshed, are forgotten after this long. */
  tombstoneMs: number
  now?: () => number
}

/** The replicated directory as one relay holds it. */
export class Directory {
  private readonly entries = new Map<string, DirectoryEntry>()
  /** Local time each entry last changed here (not replicated: for expiry only). */
  private readonly seenAt = new Map<string, number>()
  readonly self: string
  private readonly init: DirectoryInit
  private readonly now: () => number
  /** Changes with every change of the view (readers cache what they derive from it). */
  generation = 0

  constructor(init: DirectoryInit) {
    this.init = init
    this.self = init.self
    this.now = init.now ?? Date.now
  }

  get(node: string): DirectoryEntry | undefined {
    return this.entries.get(node)
  }

  /** Merges one entry; returns true when it changed this view (so it is worth passing on). */
  merge(e: DirectoryEntry): boolean {
    const mine = this.entries.get(e.node)
    if (mine !== undefined && newer(mine, e) === mine) return false
    if (e.node === this.self && mine !== undefined) return false // only we write our own entry
    this.entries.set(e.node, e)
    this.seenAt.set(e.node, this.now())
    this.generation++
    return true
  }

  /** Our own entry (always accepted). */
  setSelf(e: DirectoryEntry): void {
    this.entries.set(e.node, e)
    this.seenAt.set(e.node, this.now())
    this.generation++
  }

  /** Marks a node dead at its current version; returns the tombstone, if it changed anything. */
  kill(node: string): DirectoryEntry | undefined {
    const e = this.entries.get(node)
    if (e === undefined || e.dead === true || node === this.self) return undefined
    const t: DirectoryEntry = { node, version: e.version, dead: true, addrs: [], clusters: {}, topics: [] }
    this.entries.set(node, t)
    this.seenAt.set(node, this.now())
    this.generation++
    return t
  }

  /** Live, fresh entries (ourselves included). */
  alive(): DirectoryEntry[] {
    const now = this.now()
    const out: DirectoryEntry[] = []
    for (const [node, e] of this.entries) {
      if (e.dead === true) continue
      if (node !== this.self && now - (this.seenAt.get(node) ?? 0) > this.init.expiryMs) continue
      out.push(e)
    }
    return out
  }

  isAlive(node: string): boolean {
    const e = this.entries.get(node)
    if (e === undefined || e.dead === true) return false
    return node === this.self || this.now() - (this.seenAt.get(node) ?? 0) <= this.init.expiryMs
  }

  /** Every entry, tombstones included. */
  all(): DirectoryEntry[] {
    return [...this.entries.values()]
  }

  /** What is worth passing on: tombstones and fresh entries, not expired ones (stale news). */
  private fresh(node: string, e: DirectoryEntry, now: number): boolean {
    return e.dead === true || node === this.self || now - (this.seenAt.get(node) ?? 0) <= this.init.expiryMs
  }

  /** Entries for a new peer: tombstones and fresh entries. */
  gossipable(): DirectoryEntry[] {
    const now = this.now()
    return [...this.entries].filter(([node, e]) => this.fresh(node, e, now)).map(([, e]) => e)
  }

  digest(): Record<string, number> {
    const d: Record<string, number> = {}
    for (const [node, e] of this.entries) d[node] = e.version * 2 + (e.dead === true ? 1 : 0)
    return d
  }

  /** Fresh entries (and tombstones) newer here than in the other side's digest. */
  newerThan(digest: Record<string, number>): DirectoryEntry[] {
    const out: DirectoryEntry[] = []
    const now = this.now()
    for (const [node, e] of this.entries) {
      if (!this.fresh(node, e, now)) continue
      const theirs = digest[node]
      if (theirs === undefined || e.version * 2 + (e.dead === true ? 1 : 0) > theirs) out.push(e)
    }
    return out
  }

  get size(): number {
    return this.entries.size
  }

  /**
   * Housekeeping: an entry not refreshed for tombstoneMs (a relay long gone) becomes a
   * tombstone, so a late copy of it cannot come back as a ghost; tombstones are forgotten
   * after tombstoneMs more.
   */
  sweep(): void {
    // Entries also expire with time alone: a sweep is when readers take another look.
    this.generation++
    const now = this.now()
    for (const [node, e] of this.entries) {
      if (node === this.self || now - (this.seenAt.get(node) ?? 0) <= this.init.tombstoneMs) continue
      if (e.dead === true) {
        this.entries.delete(node)
        this.seenAt.delete(node)
      } else {
        this.kill(node)
      }
    }
  }

  state(): Map<string, DirectoryEntry> {
    return new Map(this.entries)
  }
}
