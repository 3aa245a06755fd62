import { DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES } from '@herald/wire'
import { ClientServer } from './client-server.js'
import { Router } from './router.js'
import { Overlay } from './overlay.js'
import { Mesh, type PeerView } from './mesh.js'
import { devNetworkKey } from './network-key.js'
import {
  DEFAULT_CLIENT_HOST, DEFAULT_CLIENT_PORT, DEFAULT_NETWORK, DEFAULT_STALL_TIMEOUT_MS, MIN_PEER_FRAME_BYTES, SHUTDOWN_GRACE_MS, SYSTEM_PREFIX,
} from './constants.js'

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
  /** Client port on loopback; 0 picks a free one. */
  port?: number
  /** Client host; loopback only unless you know what you are doing. */
  host?: string
  /** Also serve clients on this Unix socket (mode 0600). */
  socketPath?: string
  maxMessageBytes?: number
  /** A partial frame stalled this long closes the client (slow loris). */
  stallTimeoutMs?: number
  /** Where log lines go (default: stderr). */
  log?: (msg: string) => void
}

export interface RelayStatus {
  nodeId: string
  network: string
  port: number
  addrs: string[]
  uptimeMs: number
  clients: number
  acceptedConnections: number
  protocolErrors: number
  rssBytes: number
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: Record<string, number>
  peers: PeerView[]
  links: Array<{ nodeId: string; bytesIn: number; bytesOut: number; dropped: number }>
}

/** A Herald relay: the libp2p overlay and mesh, the router, and the local client server. */
export class Relay {
  readonly network: string
  readonly router: Router
  private readonly overlay: Overlay
  private readonly mesh: Mesh
  private clients: ClientServer | undefined
  private readonly init: RelayInit
  private readonly log: (msg: string) => void
  private readonly maxMessageBytes: number
  private readonly startedAt = Date.now()
  private stopping: Promise<void> | undefined

  constructor(init: RelayInit = {}) {
    this.init = init
    this.network = init.network ?? DEFAULT_NETWORK
    this.log = init.log ?? ((m: string) => process.stderr.write(`herald: ${m}\n`))
    this.maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.router = new Router({
      systemRequest: (cluster) => (cluster === `${SYSTEM_PREFIX}status` ? Buffer.from(JSON.stringify(this.status())) : undefined),
    })
    this.overlay = new Overlay({
      network: this.network,
      networkKey: init.networkKey ?? devNetworkKey(this.network),
      listen: init.listen ?? ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: init.bootstrap ?? [],
      mdns: init.mdns ?? false,
      cloak: init.cloak ?? false,
      ...(init.dataDir !== undefined ? { dataDir: init.dataDir } : {}),
      log: this.log,
    })
    this.mesh = new Mesh({
      overlay: this.overlay, router: this.router, network: this.network,
      maxFrameBytes: Math.max(this.maxMessageBytes + FRAME_OVERHEAD_BYTES, MIN_PEER_FRAME_BYTES), log: this.log,
    })
  }

  get nodeId(): string {
    return this.overlay.nodeId
  }

  get port(): number {
    return this.clients?.port ?? 0
  }

  addrs(): string[] {
    return this.overlay.addrs()
  }

  async start(): Promise<void> {
    await this.mesh.start()
    this.clients = new ClientServer({
      router: this.router,
      nodeId: this.nodeId,
      host: this.init.host ?? DEFAULT_CLIENT_HOST,
      port: this.init.port ?? DEFAULT_CLIENT_PORT,
      ...(this.init.socketPath !== undefined ? { socketPath: this.init.socketPath } : {}),
      maxMessageBytes: this.maxMessageBytes,
      maxFrameBytes: this.maxMessageBytes + FRAME_OVERHEAD_BYTES,
      stallTimeoutMs: this.init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      log: this.log,
    })
    try {
      await this.clients.start()
    } catch (err) {
      await this.mesh.stop()
      throw err
    }
  }

  status(): RelayStatus {
    const snap = this.router.snapshot()
    return {
      nodeId: this.nodeId,
      network: this.network,
      port: this.port,
      addrs: this.addrs(),
      uptimeMs: Date.now() - this.startedAt,
      clients: this.clients?.sessions.size ?? 0,
      acceptedConnections: this.clients?.accepted ?? 0,
      protocolErrors: this.clients?.protocolErrors ?? 0,
      rssBytes: process.memoryUsage.rss(),
      clusters: snap.clusters,
      topics: snap.topics,
      counters: {
        ...snap.counters, inflight: snap.inflight,
        gossipSent: this.mesh.gossipSent, gossipReceived: this.mesh.gossipReceived, rejectedEntries: this.mesh.rejectedEntries,
      },
      peers: this.mesh.view(),
      links: this.mesh.linkStats(),
    }
  }

  /** Graceful stop: in-flight requests are answered (or failed), clients and peers are told goodbye. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.router.drain(SHUTDOWN_GRACE_MS)
      await this.clients?.stop('the relay is shutting down')
      await this.mesh.stop().catch(() => {})
    })()
    return this.stopping
  }
}

export async function startRelay(init: RelayInit = {}): Promise<Relay> {
  const relay = new Relay(init)
  await relay.start()
  return relay
}
