import { randomBytes } from 'node:crypto'
import { DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES } from '@herald/wire'
import { ClientServer } from './client-server.js'
import { Router } from './router.js'
import {
  DEFAULT_CLIENT_HOST, DEFAULT_CLIENT_PORT, DEFAULT_NETWORK, DEFAULT_STALL_TIMEOUT_MS, SHUTDOWN_GRACE_MS, SYSTEM_PREFIX,
} from './constants.js'

export interface RelayInit {
  /** Network name (relays of different networks never merge). */
  network?: string
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
  uptimeMs: number
  clients: number
  acceptedConnections: number
  protocolErrors: number
  rssBytes: number
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: Record<string, number>
  peers: Array<{ nodeId: string }>
}

/** A Herald relay: the local client server and the router (the overlay joins in later layers). */
export class Relay {
  readonly nodeId: string
  readonly network: string
  readonly router: Router
  private readonly clients: ClientServer
  private readonly startedAt = Date.now()
  private stopping: Promise<void> | undefined

  constructor(init: RelayInit = {}) {
    this.network = init.network ?? DEFAULT_NETWORK
    this.nodeId = `herald-${randomBytes(8).toString('hex')}`
    const log = init.log ?? ((m: string) => process.stderr.write(`herald: ${m}\n`))
    const maxMessageBytes = init.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES
    this.router = new Router({
      systemRequest: (cluster) => (cluster === `${SYSTEM_PREFIX}status` ? Buffer.from(JSON.stringify(this.status())) : undefined),
    })
    this.clients = new ClientServer({
      router: this.router,
      nodeId: this.nodeId,
      host: init.host ?? DEFAULT_CLIENT_HOST,
      port: init.port ?? DEFAULT_CLIENT_PORT,
      ...(init.socketPath !== undefined ? { socketPath: init.socketPath } : {}),
      maxMessageBytes,
      maxFrameBytes: maxMessageBytes + FRAME_OVERHEAD_BYTES,
      stallTimeoutMs: init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      log,
    })
  }

  get port(): number {
    return this.clients.port
  }

  async start(): Promise<void> {
    await this.clients.start()
  }

  status(): RelayStatus {
    const snap = this.router.snapshot()
    return {
      nodeId: this.nodeId,
      network: this.network,
      port: this.port,
      uptimeMs: Date.now() - this.startedAt,
      clients: this.clients.sessions.size,
      acceptedConnections: this.clients.accepted,
      protocolErrors: this.clients.protocolErrors,
      rssBytes: process.memoryUsage.rss(),
      clusters: snap.clusters,
      topics: snap.topics,
      counters: { ...snap.counters, inflight: snap.inflight },
      peers: [],
    }
  }

  /** Graceful stop: in-flight requests are answered (or failed), then every client is told goodbye. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      await this.router.drain(SHUTDOWN_GRACE_MS)
      await this.clients.stop('the relay is shutting down')
    })()
    return this.stopping
  }
}

export async function startRelay(init: RelayInit = {}): Promise<Relay> {
  const relay = new Relay(init)
  await relay.start()
  return relay
}
