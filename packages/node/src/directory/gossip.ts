import { DIRECTORY_FRAME_BYTES, FrameType, MAX_DIRECTORY_FRAME_ENTRIES } from '@herald/wire'
import type { Clock, Timer } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Overlay } from '../overlay/overlay.js'
import type { Dialer } from '../peers/dialer.js'
import type { LinkManager } from '../peers/link-manager.js'
import type { PeerLink } from '../peers/peer-link.js'
import type { GossipSink } from '../peers/sinks.js'
import { maxPlausibleVersion, validEntry, type ClusterLoad, type Directory, type DirectoryEntry } from './directory.js'

/** What this relay serves, for its own directory entry. */
export interface LocalSummary {
  clusters: Record<string, ClusterLoad>
  topics: string[]
}

export interface GossipInit {
  directory: Directory
  links: LinkManager
  dialer: Dialer
  overlay: Pick<Overlay, 'addrs' | 'provide'>
  /** This relay's clusters and topics now. */
  summary: () => LocalSummary
  clock: Clock
  limits: Pick<RelayLimits, 'heartbeatMs' | 'antiEntropyMs' | 'maxDirectoryNodes'>
  log: (msg: string) => void
}

const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/**
 * How directory entries spread, and how dead relays leave: our entry is pushed to every
 * link on each change (coalesced per turn of the event loop) and every heartbeat; what is
 * new is flooded on (stopped by the version check); every anti-entropy interval a digest goes
 * to one random link, which answers with what we lack; a new link gets the whole view. A relay
 * with neither a link nor a connection is tombstoned; one whose entry stops being refreshed
 * expires (Directory). Dials every live relay we have no link to (a full mesh).
 */
export class Gossip implements GossipSink {
  private readonly init: GossipInit
  private readonly directory: Directory
  private readonly links: LinkManager
  private version: number
  private timers: Timer[] = []
  private changePending = false
  private stopped = false
  private readonly provided = new Set<string>()
  sent = 0
  received = 0
  rejectedEntries = 0

  constructor(init: GossipInit) {
    this.init = init
    this.directory = init.directory
    this.links = init.links
    // Versions start from the clock, so a restarted relay's entries beat its old tombstone.
    this.version = init.clock.now() * 1000
  }

  get self(): string {
    return this.directory.self
  }

  start(): void {
    this.directory.setSelf(this.ownEntry())
    const { clock, limits } = this.init
    this.timers.push(clock.setInterval(() => this.heartbeat(), limits.heartbeatMs), clock.setInterval(() => this.antiEntropy(), limits.antiEntropyMs))
    for (const t of this.timers) t.unref?.()
  }

  stop(): void {
    this.stopped = true
    for (const t of this.timers) this.init.clock.clearInterval(t)
  }

  /** Our clusters or topics changed. Coalesced, so a burst makes one new version. */
  localChanged(): void {
    if (this.changePending || this.stopped) return
    this.changePending = true
    setImmediate(() => {
      this.changePending = false
      if (!this.stopped) this.publishSelf()
    })
  }

  // ---- GossipSink ---------------------------------------------------------------------

  linkUp(link: PeerLink): void {
    this.sendEntries(link, this.directory.gossipable())
  }

  entries(link: PeerLink, bytes: Uint8Array): void {
    this.received++
    const list = parseJson(bytes)
    if (!Array.isArray(list) || list.length > MAX_DIRECTORY_FRAME_ENTRIES) {
      this.rejectedEntries++
      this.init.log(`peer ${link.remote} sent a malformed directory; disconnecting it`)
      link.close('malformed directory')
      return
    }
    const changed: DirectoryEntry[] = []
    const maxVersion = maxPlausibleVersion(this.init.clock.now())
    for (const e of list) {
      if (!validEntry(e, maxVersion) || (this.directory.get(e.node) === undefined && this.directory.size >= this.init.limits.maxDirectoryNodes)) {
        this.rejectedEntries++
        continue
      }
      if (e.node === this.self) {
        // Someone holds a stale (or false) word about us: answer with our own, newer entry.
        if (e.version >= this.version) {
          this.version = e.version + 1
          this.publishSelf()
        }
        continue
      }
      if (this.directory.merge(e)) changed.push(e)
    }
    if (changed.length === 0) return
    this.flood(changed, link)
    for (const e of changed) {
      if (e.dead !== true && !this.links.has(e.node)) this.init.dialer.dial(e.node, e.addrs)
    }
  }

  digest(link: PeerLink, bytes: Uint8Array): void {
    const digest = parseJson(bytes)
    if (typeof digest !== 'object' || digest === null || Array.isArray(digest)) {
      link.close('malformed digest')
      return
    }
    this.sendEntries(link, this.directory.newerThan(digest as Record<string, number>))
  }

  peerLost(peer: string): void {
    const t = this.directory.kill(peer)
    if (t !== undefined) this.flood([t], undefined)
  }

  // ---- spreading ----------------------------------------------------------------------

  private ownEntry(): DirectoryEntry {
    const s = this.init.summary()
    return { node: this.self, version: this.version, addrs: this.init.overlay.addrs(), clusters: s.clusters, topics: s.topics }
  }

  private publishSelf(): void {
    this.version++
    const e = this.ownEntry()
    for (const name of Object.keys(e.clusters)) {
      if (this.provided.has(name)) continue
      // The DHT lets relays that do not know us yet find this cluster (the overlay re-provides it).
      if (this.provided.size < 10_000) this.provided.add(name)
      this.init.overlay.provide?.(name)
    }
    this.directory.setSelf(e)
    this.flood([e], undefined)
  }

  /** Sends entries in frames of at most ~DIRECTORY_FRAME_BYTES each, so a large directory never hits the frame limit. */
  private sendEntries(link: PeerLink, entries: DirectoryEntry[]): void {
    let batch: string[] = []
    let bytes = 0
    const flush = (): void => {
      if (batch.length === 0) return
      this.sent++
      link.send({ type: FrameType.directory, entries: utf8.encode(`[${batch.join(',')}]`) })
      batch = []
      bytes = 0
    }
    for (const e of entries) {
      const json = JSON.stringify(e)
      if (bytes + json.length > DIRECTORY_FRAME_BYTES) flush()
      batch.push(json)
      bytes += json.length + 1
    }
    flush()
  }

  /** Pushes entries to every link but `except` (flooding, stopped by version checks). */
  private flood(entries: DirectoryEntry[], except: PeerLink | undefined): void {
    for (const l of this.links.all()) if (l !== except) this.sendEntries(l, entries)
  }

  private heartbeat(): void {
    if (this.stopped) return
    this.publishSelf()
    this.directory.sweep()
    // Full mesh: dial any live relay we have no link to.
    for (const e of this.directory.alive()) {
      if (e.node !== this.self && !this.links.has(e.node)) this.init.dialer.dial(e.node, e.addrs)
    }
  }

  private antiEntropy(): void {
    if (this.stopped || this.links.size === 0) return
    const all = [...this.links.all()]
    const l = all[Math.floor(Math.random() * all.length)] as PeerLink
    l.send({ type: FrameType.digest, digest: utf8.encode(JSON.stringify(this.directory.digest())) })
  }
}

function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(fromUtf8.decode(bytes))
  } catch {
    return undefined
  }
}
