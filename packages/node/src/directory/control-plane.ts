/**
 * directory/ — who else is out there: the membership protocol (membership*.ts: partial view,
 * failure detection, the replicated directory and its dissemination), run for this relay over
 * its peer links (control-plane.ts), and the index of which relay serves what that the router
 * reads (remote-index.ts).
 *
 * May import: peers/ (links, sinks), overlay/ (types), clock, constants, @herald/wire.
 * Never routing/ or clients/.
 */
import { MAX_VERSION_AHEAD_MS, WireError, decodeControl, encodeControl } from '@herald/wire'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import type { Overlay } from '../overlay/overlay.js'
import { peerOfAddr } from '../overlay/overlay.js'
import type { LinkManager } from '../peers/link-manager.js'
import type { ControlSink } from '../peers/sinks.js'
import { Membership } from './membership.js'
import type { MembershipConfig, NodeData } from './membership-types.js'
import type { RemoteIndex } from './remote-index.js'

/** What this relay serves, for its own directory entry. */
export interface LocalSummary {
  clusters: Record<string, ClusterLoad>
  topics: string[]
}

export interface ClusterLoad {
  members: number
  load: number
}

export interface ControlPlaneInit {
  links: LinkManager
  overlay: Pick<Overlay, 'nodeId' | 'addrs' | 'provide' | 'discover'>
  remote: RemoteIndex
  /** Overlay addresses of relays to join (each ending in /p2p/<peer id>). */
  bootstrap: readonly string[]
  /** This relay's clusters and topics now. */
  summary: () => LocalSummary
  /** `node` left the view (declared dead): what was in flight to it has lost its member. */
  onDown: (node: string) => void
  clock: Clock
  config?: Partial<MembershipConfig>
  log: Logger
}

/**
 * The control plane of one relay: the membership protocol (I/O-free, membership.ts) given
 * this relay's clock and its peer links, CONTROL frames decoded and encoded, bootstrap and
 * discovery turned into contacts, and what the protocol learns turned into the router's
 * index. A relay's entry changes when its clusters or topics do (coalesced per turn of the
 * event loop), never on a timer.
 */
export class ControlPlane implements ControlSink {
  readonly membership: Membership
  private readonly init: ControlPlaneInit
  private changePending = false
  private stopped = false
  private readonly provided = new Set<string>()
  /** Control frames from peers that were malformed (the peer was disconnected). */
  rejected = 0

  constructor(init: ControlPlaneInit) {
    this.init = init
    const { links, clock, remote } = init
    this.membership = new Membership({
      self: init.overlay.nodeId,
      config: { ...init.config },
      env: {
        now: () => clock.now(),
        random: Math.random,
        setTimer: (ms, fn) => {
          const t = clock.setTimeout(fn, ms)
          t.unref?.()
          return { cancel: () => clock.clearTimeout(t) }
        },
        send: (peer, msg) => links.sendControl(peer, encodeControl(msg)),
        connect: (peer) => links.connect(peer),
        release: (peer) => links.release(peer),
        discover: () => init.overlay.discover?.(),
      },
      listener: {
        data: (node, before, after) => remote.update(node, before, after),
        down: (node, before) => {
          remote.update(node, before, undefined)
          links.drop(node, 'the relay was declared dead')
          init.onDown(node)
        },
        log: (event, fields) => logMembership(init.log, event, fields),
      },
    })
  }

  start(): void {
    this.membership.setData(this.ownData())
    for (const addr of this.init.bootstrap) {
      const peer = peerOfAddr(addr)
      if (peer !== undefined) this.membership.addContact(peer, [addr])
    }
    this.membership.start()
  }

  /** Leaves gracefully: every relay drops us at once. */
  stop(): void {
    if (this.stopped) return
    this.stopped = true
    this.membership.leave()
  }

  /** Our clusters or topics changed. Coalesced, so a burst makes one new version. */
  localChanged(): void {
    if (this.changePending || this.stopped) return
    this.changePending = true
    setImmediate(() => {
      this.changePending = false
      if (this.stopped) return
      const data = this.ownData()
      for (const name of data.clusters.keys()) {
        if (this.provided.has(name)) continue
        // The DHT (when there is one) lets relays that do not know us yet find this cluster.
        if (this.provided.size < 10_000) this.provided.add(name)
        this.init.overlay.provide?.(name)
      }
      this.membership.setData(data)
    })
  }

  private ownData(): NodeData {
    const s = this.init.summary()
    const clusters = new Map<string, number>()
    for (const [name, c] of Object.entries(s.clusters)) if (c.members > 0) clusters.set(name, c.members)
    return { addrs: this.init.overlay.addrs(), clusters, topics: new Set(s.topics) }
  }

  // ---- ControlSink (from the links) ---------------------------------------------------

  linkUp(peer: string): void {
    this.membership.linkUp(peer)
  }

  linkDown(peer: string): void {
    this.membership.linkDown(peer)
  }

  connectFailed(peer: string, refused: boolean): void {
    this.membership.connectFailed(peer, refused)
  }

  heard(peer: string): void {
    this.membership.heard(peer)
  }

  control(peer: string, body: Uint8Array): void {
    let msg
    try {
      msg = decodeControl(body)
    } catch (err) {
      this.rejected++
      const reason = err instanceof WireError ? err.message : String(err)
      this.init.log.warn({ event: 'peer.malformed_control', peer, reason }, `peer ${peer} sent a malformed control message (${reason}); disconnecting it`)
      this.init.links.drop(peer, 'malformed control message')
      return
    }
    // A version far ahead of our clock is forged: it would outrank every real one for good.
    const max = (this.init.clock.now() + MAX_VERSION_AHEAD_MS) * 1000
    if (msg.t === 'gossip' && (msg.deltas.some((d) => d.version > max) || msg.notes.some((n) => n.version > max))) {
      this.rejected++
      msg = { ...msg, deltas: msg.deltas.filter((d) => d.version <= max), notes: msg.notes.filter((n) => n.version <= max) }
    }
    this.membership.receive(peer, msg)
  }

  discovered(peer: string, addrs: string[]): void {
    this.membership.addContact(peer, addrs)
  }

  addrsOf(peer: string): readonly string[] {
    return this.membership.view.addrsOf(peer)
  }

  holds(peer: string): boolean {
    return this.membership.holds(peer)
  }

  // ---- status -------------------------------------------------------------------------

  /** Relays in the view (alive or suspected), with their data. */
  view(): Array<{ node: string; data: NodeData; suspected: boolean }> {
    const out: Array<{ node: string; data: NodeData; suspected: boolean }> = []
    for (const e of this.membership.store.entries()) {
      if (e.node === this.membership.self || e.data === undefined || e.localDead || e.liveness === 2) continue
      out.push({ node: e.node, data: e.data, suspected: this.membership.suspects(e.node) })
    }
    return out
  }
}

/** The membership protocol's events (membership.ts), as log lines with stable fields. */
function logMembership(log: Logger, event: string, fields: Record<string, unknown>): void {
  const peer = typeof fields['node'] === 'string' ? fields['node'] : undefined
  switch (event) {
    case 'suspect':
      log.warn({ event: 'peer.suspected', peer, strong: fields['strong'], health: fields['health'] },
        `suspecting relay ${String(peer)} (${fields['strong'] === true ? 'its connection was lost and cannot be reopened' : 'it went quiet'}); asking its neighbors to probe it`)
      return
    case 'dead':
      log.warn({ event: 'peer.dead', peer, gossiped: fields['gossiped'] },
        `relay ${String(peer)} declared dead${fields['gossiped'] === true ? '' : ' (kept to this relay: it has lost its own neighbors)'}`)
      return
    case 'cleared':
      log.info({ event: 'peer.cleared', peer, falseSuspicion: fields['refuted'] }, `relay ${String(peer)} is no longer suspected`)
      return
    case 'refuted':
      log.warn({ event: 'self.refuted', version: fields['version'] }, 'another relay declared this one dead: refuted with a newer version')
      return
    default:
      log.debug({ ...fields, event: `membership.${event}` }, `membership: ${event}`)
  }
}
