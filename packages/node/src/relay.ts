import { DEFAULT_CLIENT_PORT, DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES, MIN_PEER_FRAME_BYTES, STATUS_CLUSTER } from '@herald/wire'
import { systemClock, type Clock } from './clock.js'
import { DEFAULT_CLIENT_HOST, DEFAULT_LIMITS, DEFAULT_NETWORK, type RelayLimits } from './constants.js'
import { ClientServer } from './clients/client-server.js'
import { MemorySocket } from './clients/memory-socket.js'
import { Directory } from './directory/directory.js'
import { Gossip } from './directory/gossip.js'
import { RemoteIndex } from './directory/remote-index.js'
import { devNetworkKey } from './overlay/network-key.js'
import type { Overlay } from './overlay/overlay.js'
import { Dialer } from './peers/dialer.js'
import { LinkManager } from './peers/link-manager.js'
import { PeerAdapter } from './routing/peer-adapter.js'
import { Router } from './routing/router.js'
import { relayStatus, type RelayStatus } from './status.js'

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
  /** Where log lines go (default: stderr). */
  log?: (msg: string) => void
}

/** What a relay is built on: the overlay (libp2p or in-memory) and, for tests, a clock. */
export interface RelayComponents {
  overlay: Overlay
  clock?: Clock
}

const stderrLog = (m: string): void => { process.stderr.write(`herald: ${m}\n`) }

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
  private readonly directory: Directory
  private readonly gossip: Gossip
  private readonly remote: RemoteIndex
  private readonly clients: ClientServer
  private readonly startedAt: number
  private stopping: Promise<void> | undefined

  constructor(init: RelayInit, components: RelayComponents) {
    const log = init.log ?? stderrLog
    const maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    const limits = this.limits = {
      ...DEFAULT_LIMITS, ...init.limits, ...(init.stallTimeoutMs !== undefined ? { stallTimeoutMs: init.stallTimeoutMs } : {}),
    }
    const overlay = this.overlay = components.overlay
    const clock = this.clock = components.clock ?? systemClock
    this.network = init.network ?? DEFAULT_NETWORK
    this.startedAt = clock.now()
    const dialer = new Dialer({ overlay, bootstrap: init.bootstrap ?? [], clock, limits, log })
    this.links = new LinkManager({
      overlay, dialer, network: this.network, clock, limits, log,
      maxFrameBytes: Math.max(maxMessageBytes + FRAME_OVERHEAD_BYTES, MIN_PEER_FRAME_BYTES),
    })
    const directory = this.directory = new Directory({ self: overlay.nodeId, expiryMs: limits.entryExpiryMs, tombstoneMs: limits.tombstoneMs, now: () => clock.now() })
    this.remote = new RemoteIndex({ directory, links: this.links, dialer, overlay, clock, limits })
    // The gossip reads the router's summary only once started, when the router exists.
    this.gossip = new Gossip({ directory, links: this.links, dialer, overlay, clock, limits, log, summary: () => this.router.localSummary() })
    this.router = new Router({
      remote: this.remote, clock, limits, onLocalChange: () => this.gossip.localChanged(),
      systemRequest: (cluster) => (cluster === STATUS_CLUSTER ? Buffer.from(JSON.stringify(this.status())) : undefined),
    })
    this.clients = new ClientServer({
      router: this.router, nodeId: overlay.nodeId, clock, limits, log, maxMessageBytes,
      maxFrameBytes: maxMessageBytes + FRAME_OVERHEAD_BYTES,
      tcp: init.port === false ? undefined : { host: init.host ?? DEFAULT_CLIENT_HOST, port: init.port ?? DEFAULT_CLIENT_PORT },
      ...(init.socketPath !== undefined ? { socketPath: init.socketPath } : {}),
    })
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
    await this.links.start({ data: new PeerAdapter(this.router), gossip: this.gossip, tunnels: this.router })
    this.gossip.start()
    try {
      await this.clients.start()
    } catch (err) {
      await this.shutDownPeers()
      throw err
    }
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
      router: this.router, clients: this.clients, directory: this.directory, gossip: this.gossip, links: this.links,
    })
  }

  /** Graceful stop: in-flight requests are answered (or failed), clients and peers are told goodbye. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.router.drain(this.limits.shutdownGraceMs)
      await this.clients.stop('the relay is shutting down')
      await this.shutDownPeers().catch(() => {})
    })()
    return this.stopping
  }

  private async shutDownPeers(): Promise<void> {
    this.gossip.stop()
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
    cloak: init.cloak ?? false,
    ...(init.dataDir !== undefined ? { dataDir: init.dataDir } : {}),
    log: init.log ?? stderrLog,
  })
}

/** Creates and starts a relay: on a libp2p overlay unless `components.overlay` is given. */
export async function startRelay(init: RelayInit = {}, components: Partial<RelayComponents> = {}): Promise<Relay> {
  const overlay = components.overlay ?? (await libp2pOverlay(init))
  const relay = createRelay(init, { ...components, overlay })
  await relay.start()
  return relay
}
