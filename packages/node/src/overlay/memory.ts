import { MemoryStream } from './memory-stream.js'
import type { ByteStream, Overlay, OverlayEvents, Provider, StreamKind } from './overlay.js'

export interface MemoryNetworkInit {
  /** Bytes a stream end may have waiting to be read before send() says "backed up" (default 4 MiB). */
  highWaterBytes?: number
}

/** A connection between two nodes: its streams die with it. */
interface Link {
  readonly a: string
  readonly b: string
  readonly streams: Set<MemoryStream>
}

const key = (a: string, b: string): string => (a < b ? `${a}|${b}` : `${b}|${a}`)

/**
 * Many relays in one process: an in-memory network of overlay nodes. Connections and
 * streams are in-memory pipes; a node can be hung up on, disconnected from another, stalled,
 * or killed (it vanishes: its peers see their connections drop, and it hears nothing more),
 * so tests can play out failures without processes or sockets.
 */
export class MemoryNetwork {
  private readonly nodes = new Map<string, MemoryOverlay>()
  private readonly links = new Map<string, Link>()
  private readonly providers = new Map<string, Set<string>>()
  /** Kinds of stream whose opens are held, with the opens waiting. */
  private readonly held = new Map<StreamKind, Array<() => void>>()
  private nextId = 1
  readonly highWaterBytes: number

  constructor(init: MemoryNetworkInit = {}) {
    this.highWaterBytes = init.highWaterBytes ?? 4 * 1024 * 1024
  }

  /** A new node (its id: letters and digits, like a peer id). */
  node(id = `mem${this.nextId++}`): MemoryOverlay {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`)
    const n = new MemoryOverlay(this, id)
    this.nodes.set(id, n)
    return n
  }

  /** The node vanishes, as a process killed with SIGKILL: every connection to it drops. */
  kill(id: string): void {
    const n = this.nodes.get(id)
    if (n === undefined) return
    n.dead = true
    for (const l of [...this.links.values()]) if (l.a === id || l.b === id) this.cut(l)
  }

  /** Drops the connection between `a` and `b` (both hear it); either may dial again. */
  disconnect(a: string, b: string): void {
    const l = this.links.get(key(a, b))
    if (l !== undefined) this.cut(l)
  }

  /** Stops (or resumes) delivery of everything `from` sends to `to`, as a stalled reader would. */
  stall(from: string, to: string, stalled: boolean): void {
    const l = this.links.get(key(from, to))
    if (l === undefined) return
    for (const s of l.streams) if (s.remotePeer === from) s.setPaused(stalled)
  }

  /**
   * Holds every stream of `kind` being opened from now on (or lets them open): an open waits,
   * as one on a congested path waits for its round trip, until released or its signal aborts.
   */
  holdStreamOpens(kind: StreamKind, held: boolean): void {
    if (held) {
      if (!this.held.has(kind)) this.held.set(kind, [])
      return
    }
    const waiting = this.held.get(kind) ?? []
    this.held.delete(kind)
    for (const release of waiting) release()
  }

  /** Internal: resolves once opens of `kind` are not held (rejects when `signal` aborts first). */
  async openAllowed(kind: StreamKind, signal: AbortSignal | undefined): Promise<void> {
    const waiting = this.held.get(kind)
    if (waiting === undefined) return
    signal?.throwIfAborted()
    await new Promise<void>((resolve, reject) => {
      const abort = (): void => reject(signal!.reason)
      signal?.addEventListener('abort', abort, { once: true })
      waiting.push(() => {
        signal?.removeEventListener('abort', abort)
        resolve()
      })
    })
  }

  /** Internal (MemoryOverlay). */
  live(id: string): MemoryOverlay | undefined {
    const n = this.nodes.get(id)
    return n !== undefined && n.running && !n.dead ? n : undefined
  }

  /** Internal. */
  connected(a: string, b: string): boolean {
    return this.links.has(key(a, b))
  }

  /** Internal: connects two live nodes (no-op when connected). */
  connect(from: MemoryOverlay, to: string): void {
    const target = this.live(to)
    if (target === undefined) throw new Error(`no route to ${to}`)
    if (this.links.has(key(from.nodeId, to))) return
    this.links.set(key(from.nodeId, to), { a: from.nodeId, b: to, streams: new Set() })
    setImmediate(() => {
      if (!this.links.has(key(from.nodeId, to))) return
      from.emit((e) => e.connected(to))
      target.emit((e) => e.connected(from.nodeId))
    })
  }

  /** Internal: a stream pair on the connection between `from` and `to`. */
  openStream(from: MemoryOverlay, to: string, kind: StreamKind): MemoryStream {
    const l = this.links.get(key(from.nodeId, to))
    const target = this.live(to)
    if (l === undefined || target === undefined) throw new Error(`not connected to ${to}`)
    const [mine, theirs] = MemoryStream.pair(kind, from.nodeId, to, this.highWaterBytes)
    l.streams.add(mine)
    l.streams.add(theirs)
    setImmediate(() => {
      if (this.links.get(key(from.nodeId, to)) !== l) return
      target.emit((e) => e.inbound(theirs))
    })
    return mine
  }

  /** Internal. */
  provide(id: string, cluster: string): void {
    let set = this.providers.get(cluster)
    if (set === undefined) this.providers.set(cluster, (set = new Set()))
    set.add(id)
  }

  /** Internal. */
  findProviders(id: string, cluster: string): Provider[] {
    return [...(this.providers.get(cluster) ?? [])]
      .filter((p) => p !== id && this.live(p) !== undefined)
      .map((p) => ({ id: p, addrs: this.nodes.get(p)!.addrs() }))
  }

  /** Internal: every connection of a stopping node closes. */
  stopped(id: string): void {
    for (const l of [...this.links.values()]) if (l.a === id || l.b === id) this.cut(l)
  }

  private cut(l: Link): void {
    this.links.delete(key(l.a, l.b))
    const err = new Error('the connection was closed')
    for (const s of l.streams) s.drop(err)
    setImmediate(() => {
      this.nodes.get(l.a)?.emit((e) => e.disconnected(l.b))
      this.nodes.get(l.b)?.emit((e) => e.disconnected(l.a))
    })
  }
}

/** One relay's overlay on a MemoryNetwork. */
export class MemoryOverlay implements Overlay {
  private events: OverlayEvents | undefined
  running = false
  dead = false

  constructor(
    private readonly network: MemoryNetwork,
    readonly nodeId: string,
  ) {}

  addrs(): string[] {
    return [`/memory/${this.nodeId}/p2p/${this.nodeId}`]
  }

  async start(events: OverlayEvents): Promise<void> {
    this.events = events
    this.running = true
  }

  async stop(): Promise<void> {
    this.running = false
    this.network.stopped(this.nodeId)
  }

  /** Internal: runs `fn` with the node's event handlers, unless it is dead or stopped. */
  emit(fn: (events: OverlayEvents) => void): void {
    if (this.events !== undefined && this.running && !this.dead) fn(this.events)
  }

  isConnected(peer: string): boolean {
    return this.network.connected(this.nodeId, peer)
  }

  async dial(peer: string, addrs?: readonly string[]): Promise<void> {
    // A real dial takes the kernel a round trip: it settles after the disconnect events already
    // on their way (a link that drops and is redialled at once hears "disconnected" first).
    for (let i = 0; i < 2; i++) await new Promise<void>((r) => setImmediate(r))
    if (this.dead) throw new Error('this node is dead')
    if (addrs !== undefined && addrs.length > 0 && !addrs.some((a) => a.startsWith(`/memory/${peer}/`))) return
    this.network.connect(this, peer)
  }

  async hangUp(peer: string): Promise<void> {
    this.network.disconnect(this.nodeId, peer)
  }

  async openStream(peer: string, kind: StreamKind, options: { signal?: AbortSignal } = {}): Promise<ByteStream> {
    if (this.dead) throw new Error('this node is dead')
    await this.network.openAllowed(kind, options.signal)
    if (this.dead) throw new Error('this node is dead')
    this.network.connect(this, peer)
    return this.network.openStream(this, peer, kind)
  }

  provide(cluster: string): void {
    this.network.provide(this.nodeId, cluster)
  }

  async findProviders(cluster: string): Promise<Provider[]> {
    return this.network.findProviders(this.nodeId, cluster)
  }
}
