import { Liveness, type ControlMessage, type Delta, type DigestItem, type NodeId, type StatusNote } from './membership-types.js'
import type { MembershipStore } from './membership-store.js'

/** What dissemination needs from the engine. */
export interface GossipHost {
  readonly store: MembershipStore
  readonly self: NodeId
  readonly maxItems: number
  send(peer: NodeId, msg: ControlMessage): void
  /** Active neighbors with a link, but `except`. */
  neighborPeers(except: NodeId | undefined): Iterable<NodeId>
}

/**
 * How changes travel: a new delta or note is pushed at once to every neighbor but the one it
 * came from (eager push over the partial view: about log N / log(degree - 1) hops to reach
 * every relay, each relay receiving each change at most once per neighbor); duplicates stop
 * at the version check. Lost pushes are repaired by anti-entropy: a digest (one hash per
 * bucket of the directory) goes to one random neighbor every few seconds, and only buckets
 * that differ are compared item by item, so a converged network exchanges a few hundred
 * bytes per relay per period however large it is.
 */
export class Gossip {
  private readonly host: GossipHost
  /** Messages sent, by type (for the simulator and metrics). */
  readonly sent = new Map<string, number>()

  constructor(host: GossipHost) {
    this.host = host
  }

  send(peer: NodeId, msg: ControlMessage): void {
    this.sent.set(msg.t, (this.sent.get(msg.t) ?? 0) + 1)
    this.host.send(peer, msg)
  }

  /** Sends deltas and notes to `peer`, cut into messages of at most maxItems items. */
  sendChanges(peer: NodeId, deltas: readonly Delta[], notes: readonly StatusNote[], sync: boolean): void {
    const max = this.host.maxItems
    let d = 0
    let n = 0
    while (d < deltas.length || n < notes.length) {
      const dn = Math.min(max, deltas.length - d)
      const nn = Math.min(max - dn, notes.length - n)
      const msg: ControlMessage = sync
        ? { t: 'gossip', deltas: deltas.slice(d, d + dn), notes: notes.slice(n, n + nn), sync: true }
        : { t: 'gossip', deltas: deltas.slice(d, d + dn), notes: notes.slice(n, n + nn) }
      this.send(peer, msg)
      d += dn
      n += nn
    }
  }

  /** Pushes news to every neighbor but `except`. */
  flood(deltas: readonly Delta[], notes: readonly StatusNote[], except: NodeId | undefined): void {
    if (deltas.length === 0 && notes.length === 0) return
    for (const peer of this.host.neighborPeers(except)) this.sendChanges(peer, deltas, notes, false)
  }

  /** The whole entries (and notes) of `nodes`, as a state transfer to `peer`. */
  sendEntries(peer: NodeId, nodes: Iterable<NodeId>): void {
    const deltas: Delta[] = []
    const notes: StatusNote[] = []
    for (const node of nodes) {
      const { delta, note } = this.host.store.full(node)
      if (delta !== undefined) deltas.push(delta)
      if (note !== undefined) notes.push(note)
    }
    this.sendChanges(peer, deltas, notes, true)
  }

  digest(peer: NodeId): void {
    this.send(peer, { t: 'digest', buckets: this.host.store.digest() })
  }

  /** A neighbor's digest: answer with our items in the buckets that differ. */
  onDigest(peer: NodeId, buckets: Uint32Array): void {
    const diff = this.host.store.differingBuckets(buckets)
    if (diff.length === 0) return
    const items = this.host.store.detail(diff)
    const max = this.host.maxItems
    // Several messages when large; each names the buckets so the receiver knows the scope.
    for (let k = 0; k < items.length || k === 0; k += max) {
      this.send(peer, { t: 'digest-detail', buckets: diff, items: items.slice(k, k + max) })
    }
  }

  /** A neighbor's items for some buckets: send what is newer here, pull what is newer there. */
  onDigestDetail(peer: NodeId, buckets: readonly number[], items: readonly DigestItem[]): void {
    const store = this.host.store
    const theirs = new Map<NodeId, DigestItem>()
    for (const it of items) theirs.set(it.node, it)
    const push: NodeId[] = []
    const pull: NodeId[] = []
    // A dead entry the other side has forgotten is not sent back (nor pulled): tombstones
    // are forgotten at slightly different times, and must not bounce between relays forever.
    for (const mine of store.detail(buckets)) {
      const t = theirs.get(mine.node)
      if (t === undefined ? !isDead(mine) : newer(mine, t)) push.push(mine.node)
    }
    for (const t of items) {
      const mine = store.item(t.node)
      if (mine === undefined ? !isDead(t) : newer(t, mine)) pull.push(t.node)
    }
    if (push.length > 0) this.sendEntries(peer, push)
    for (let k = 0; k < pull.length; k += this.host.maxItems) this.send(peer, { t: 'pull', nodes: pull.slice(k, k + this.host.maxItems) })
  }
}

/** True when `a` supersedes `b` (a higher version, or a stronger status at the same version). */
export function newer(a: DigestItem, b: DigestItem): boolean {
  const ak = effectiveKey(a)
  const bk = effectiveKey(b)
  return ak[0] > bk[0] || (ak[0] === bk[0] && ak[1] > bk[1])
}

function isDead(x: DigestItem): boolean {
  return x.status === Liveness.dead && x.statusVersion >= x.version
}

function effectiveKey(x: DigestItem): [number, number] {
  return x.statusVersion >= x.version ? [x.statusVersion, x.status] : [x.version, Liveness.alive]
}
