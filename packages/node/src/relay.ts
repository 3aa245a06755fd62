import { DEFAULT_CLIENT_PORT, DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES, MIN_PEER_FRAME_BYTES, STATUS_CLUSTER } from '@herald/wire'
import { systemClock, type Clock } from './clock.js'
import { DEFAULT_CLIENT_HOST, DEFAULT_LIMITS, DEFAULT_NETWORK, type RelayLimits } from './constants.js'
import { ClientServer } from './clients/client-server.js'
import { MemorySocket } from './clients/memory-socket.js'
import { ControlPlane } from './directory/control-plane.js'
import type { MembershipConfig } from './directory/membership-types.js'
import { RemoteIndex } from './directory/remote-index.js'
import { devNetworkKey } from './overlay/network-key.js'
import type { Overlay } from './overlay/overlay.js'
import { lineLogger, RecentEvents, stderrLogger, type Logger } from './log.js'
import type { Readiness } from './metrics/routes.js'
import { Observability } from './observe.js'
import { LinkManager } from './peers/link-manager.js'
import { RelayCaller } from './routing/caller.js'
import { PeerAdapter } from './routing/peer-adapter.js'
import type { SystemAnswer } from './routing/requests.js'
import { Router } from './routing/router.js'
import { relayStatus, type RelayParts, type RelayStatus } from './status.js'

export interface RelayInit {
  /** Network name (relays of different networks never merge). */
  network?: string
  /** The network key (32 bytes); default: the insecure --dev key derived from the network name. */
  networkKey?: Uint8Array
  /** Overlay listen addresses (default /ip4/127.0.0.1/tcp/0). */
  listen?: string[]
  /** Overlay addresses of relays to join (each with /p2p/<peer id>). */
  bootstrap?: string[]
  /** Discover relays on the LAN by mDNS. */
  mdns?: boolean
  /** Run a private kad-dht (cluster lookups beyond the directory); off by default. */
  dht?: boolean
  /** Addresses other relays should dial instead of the listen addresses (a proxy, NAT). */
  announce?: string[]
  /** Keeps the relay's peer identity across restarts. */
  dataDir?: string
  /** Wrap overlay connections in @libp2p/pnet as well (about half the throughput). */
  cloak?: boolean
  /** Client port on loopback; 0 picks a free one; false: no TCP port (in-process clients, --socket). */
  port?: number | false
  /** Client host; loopback only unless you know what you are doing. */
  host?: string
  /** Also serve clients on this Unix socket (mode 0600). */
  socketPath?: string
  maxMessageBytes?: number
  /** A partial frame stalled this long closes the client (slow loris); the same as limits.stallTimeoutMs. */
  stallTimeoutMs?: number
  /** Overrides of the defaults in constants.ts (DEFAULT_LIMITS). */
  limits?: Partial<RelayLimits>
  /** Overrides of the membership protocol's settings (directory/membership-types.ts). */
  membership?: Partial<MembershipConfig>
  /** The structured log (a pino logger fits; lineLogger(fn) writes plain lines). Default: info and above on stderr. */
  logger?: Logger
  /** Shorthand for `logger: lineLogger(log)`: every event as one plain line (tests). */
  log?: (msg: string) => void
  /** Serve Prometheus metrics, /healthz and /readyz on this "HOST:PORT", or "PORT" on loopback (port 0 picks one). */
  metrics?: string
  /** Serve the live dashboard on this "HOST:PORT"; the same address as `metrics` shares its listener. */
  ui?: string
}

/** What a relay is built on: the overlay (libp2p or in-memory) and, for tests, a clock. */
export interface RelayComponents {
  overlay: Overlay
  clock?: Clock
}

/**
 * A Herald relay, assembled from its parts: the client server (clients/), the router
 * (routing/), the directory and its gossip (directory/), the peer links (peers/), on an
 * overlay (overlay/). This is the one place that knows all of them.
 */
export class Relay {
  readonly network: string
  readonly router: Router
  readonly limits: Readonly<RelayLimits>
  private readonly overlay: Overlay
  private readonly clock: Clock
  private readonly links: LinkManager
  /** Membership and the directory (for status pages, tests and benchmarks). */
  readonly control: ControlPlane
  private readonly remote: RemoteIndex
  private readonly clients: ClientServer
  private readonly startedAt: number
  private stopping: Promise<void> | undefined
  private running = false
  private readonly bootstrap: readonly string[]
  /** The log, keeping the last warnings for status pages. */
  readonly log: RecentEvents
  private readonly observe: Observability | undefined
  private readonly caller: RelayCaller | undefined
  /** What status pages and metrics read (read-only: createRelayMetrics({ parts }) builds a registry of them). */
  readonly parts: RelayParts

  constructor(init: RelayInit, components: RelayComponents) {
    const maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    const limits = this.limits = {
      ...DEFAULT_LIMITS, ...init.limits, ...(init.stallTimeoutMs !== undefined ? { stallTimeoutMs: init.stallTimeoutMs } : {}),
    }
    const overlay = this.overlay = components.overlay
    const clock = this.clock = components.clock ?? systemClock
    this.network = init.network ?? DEFAULT_NETWORK
    this.startedAt = clock.now()
    this.bootstrap = init.bootstrap ?? []
    const log = this.log = new RecentEvents(init.logger ?? (init.log !== undefined ? lineLogger(init.log) : stderrLogger()), () => clock.now())
    this.links = new LinkManager({
      overlay, network: this.network, clock, limits, log,
      maxFrameBytes: Math.max(maxMessageBytes + FRAME_OVERHEAD_BYTES, MIN_PEER_FRAME_BYTES),
    })
    this.remote = new RemoteIndex({ self: overlay.nodeId, links: this.links, overlay, clock, limits })
    // The control plane reads the router's summary only once started, when the router exists.
    this.control = new ControlPlane({
      links: this.links, overlay, remote: this.remote, bootstrap: this.bootstrap, clock, log,
      config: { maxNodes: limits.maxDirectoryNodes, ...init.membership },
      summary: () => this.router.localSummary(),
      onDown: (node) => this.router.remoteLost(node),
    })
    this.router = new Router({
      remote: this.remote, clock, limits, onLocalChange: () => this.control.localChanged(),
      systemRequest: (cluster, payload, origin) => this.systemRequest(cluster, payload, origin),
    })
    this.clients = new ClientServer({
      router: this.router, nodeId: overlay.nodeId, clock, limits, log, maxMessageBytes,
      maxFrameBytes: maxMessageBytes + FRAME_OVERHEAD_BYTES,
      tcp: init.port === false ? undefined : { host: init.host ?? DEFAULT_CLIENT_HOST, port: init.port ?? DEFAULT_CLIENT_PORT },
      ...(init.socketPath !== undefined ? { socketPath: init.socketPath } : {}),
    })
    this.parts = { router: this.router, clients: this.clients, control: this.control, links: this.links }
    if (init.ui !== undefined) this.caller = new RelayCaller(this.router)
    if (init.metrics !== undefined || init.ui !== undefined) {
      this.observe = new Observability({
        ...(init.metrics !== undefined ? { metrics: init.metrics } : {}), ...(init.ui !== undefined ? { ui: init.ui } : {}),
        parts: this.parts,
        network: this.network, self: overlay.nodeId, clock, log,
        status: () => this.status(),
        remoteStatus: (node, timeoutMs) => this.remoteStatus(node, timeoutMs),
        readiness: () => this.readiness(),
      })
    }
  }

  /** "$herald.status": this relay's status; with a relay's id as payload, that relay's (asked over the overlay). */
  private systemRequest(cluster: string, payload: Uint8Array, origin: string): SystemAnswer {
    if (cluster !== STATUS_CLUSTER) return undefined
    const target = payload.length === 0 ? this.nodeId : Buffer.from(payload).toString('utf8')
    if (target === this.nodeId) return { reply: Buffer.from(JSON.stringify(this.status())) }
    // One hop only: a relay asked by another answers for itself or not at all.
    if (origin !== 'client' || !this.control.view().some((v) => v.node === target)) {
      return { refuse: `relay ${target} is not in this relay's directory` }
    }
    return { relay: target }
  }

  /** Another relay's status, asked over the overlay. */
  async remoteStatus(node: string, timeoutMs = 2000): Promise<RelayStatus> {
    const caller = this.caller ?? new RelayCaller(this.router)
    try {
      const reply = await caller.request(STATUS_CLUSTER, Buffer.from(node), timeoutMs)
      return JSON.parse(Buffer.from(reply).toString('utf8')) as RelayStatus
    } finally {
      if (caller !== this.caller) caller.close()
    }
  }

  /** Ready for traffic: started, and joined its network (or alone by design: no bootstrap). */
  readiness(): Readiness {
    if (!this.running) return { ready: false, reason: this.stopping !== undefined ? 'stopping' : 'starting' }
    const others = this.control.view().length
    if (others > 0) return { ready: true, reason: `${others} other relay${others === 1 ? '' : 's'} known` }
    if (this.bootstrap.length === 0) return { ready: true, reason: 'alone (no bootstrap addresses)' }
    return { ready: false, reason: 'no other relay known yet (joining through the bootstrap addresses)' }
  }

  /** Where the metrics and the dashboard are served (once started), when asked for. */
  get metricsUrl(): string | undefined {
    return this.observe?.metricsUrl
  }

  get uiUrl(): string | undefined {
    return this.observe?.uiUrl
  }

  get nodeId(): string {
    return this.overlay.nodeId
  }

  /** The client port (0 without a TCP listener). */
  get port(): number {
    return this.clients.port
  }

  addrs(): string[] {
    return this.overlay.addrs()
  }

  async start(): Promise<void> {
    // The HTTP listeners first: an address that cannot be served stops the relay before it joins.
    await this.observe?.start()
    try {
      await this.links.start({ data: new PeerAdapter(this.router), control: this.control, tunnels: this.router })
    } catch (err) {
      await this.observe?.stop()
      throw err
    }
    this.control.start()
    try {
      await this.clients.start()
    } catch (err) {
      await this.shutDownPeers()
      await this.observe?.stop()
      throw err
    }
    this.running = true
    this.observe?.running()
  }

  /** A client connection within this process (no TCP): give it to connect({ socket }) of @herald/client. */
  connectInProcess(): MemorySocket {
    const [relaySide, clientSide] = MemorySocket.pair()
    this.clients.accept(relaySide)
    return clientSide
  }

  status(): RelayStatus {
    return relayStatus({
      nodeId: this.nodeId, network: this.network, addrs: this.addrs(), uptimeMs: this.clock.now() - this.startedAt,
      ...this.parts, recent: this.log.list(),
    })
  }

  /** Graceful stop: in-flight requests are answered (or failed), clients and peers are told goodbye. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.running = false
      this.log.debug({ event: 'relay.stopping' }, 'stopping: members answer what they hold, then clients and peers are told goodbye')
      await this.observe?.stop()
      this.caller?.close()
      await this.router.drain(this.limits.shutdownGraceMs)
      await this.clients.stop('the relay is shutting down')
      await this.shutDownPeers().catch(() => {})
    })()
    return this.stopping
  }

  private async shutDownPeers(): Promise<void> {
    // Tell the network we are leaving: closing the links flushes the news out first.
    this.control.stop()
    this.remote.stop()
    await this.links.stop()
  }
}

/** Assembles a relay on the given overlay (not started). */
export function createRelay(init: RelayInit, components: RelayComponents): Relay {
  return new Relay(init, components)
}

/** The libp2p overlay a relay of `init` runs on by default (loaded on first use: it is large). */
export async function libp2pOverlay(init: RelayInit = {}): Promise<Overlay> {
  const { Libp2pOverlay } = await import('./overlay/libp2p.js')
  const network = init.network ?? DEFAULT_NETWORK
  return Libp2pOverlay.create({
    network,
    networkKey: init.networkKey ?? devNetworkKey(network),
    listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
    mdns: init.mdns ?? false,
    dht: init.dht ?? false,
    ...(init.announce !== undefined ? { announce: init.announce } : {}),
    cloak: init.cloak ?? false,
    ...(init.dataDir !== undefined ? { dataDir: init.dataDir } : {}),
  })
}

/** Creates and starts a relay: on a libp2p overlay unless `components.overlay` is given. */
export async function startRelay(init: RelayInit = {}, components: Partial<RelayComponents> = {}): Promise<Relay> {
  const overlay = components.overlay ?? (await libp2pOverlay(init))
  const relay = createRelay(init, { ...components, overlay })
  await relay.start()
  return relay
}
