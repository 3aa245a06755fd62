import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { kadDHT, removePublicAddressesMapper } from '@libp2p/kad-dht'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { KEEP_ALIVE, type PeerId, type PrivateKey, type Stream, type Connection } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { noisePrologue } from './network-key.js'
import { PROTOCOL_PREFIX } from './constants.js'

export interface OverlayInit {
  network: string
  networkKey: Uint8Array
  listen: string[]
  bootstrap: string[]
  mdns: boolean
  dataDir?: string
  /** Also wrap every connection in @libp2p/pnet (hides even the libp2p handshake). */
  cloak?: boolean
  log: (msg: string) => void
}

export interface OverlayHandlers {
  /** A new inbound link stream from a relay of this network. */
  onLinkStream(stream: Stream, remote: string): void
  /** A new inbound tunnel stream. */
  onTunnelStream(stream: Stream, remote: string): void
  /** A connection to `remote` opened (at least one now exists). */
  onConnect(remote: string): void
  /** The last connection to `remote` closed. */
  onDisconnect(remote: string): void
}

async function loadIdentity(dataDir: string | undefined): Promise<PrivateKey> {
  if (dataDir === undefined) return generateKeyPair('Ed25519')
  mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = join(dataDir, 'peer-key')
  if (existsSync(file)) return privateKeyFromProtobuf(readFileSync(file))
  const key = await generateKeyPair('Ed25519')
  writeFileSync(file, privateKeyToProtobuf(key), { mode: 0o600 })
  return key
}

/**
 * The libp2p host of a relay: TCP + Noise (network key in the prologue) + Yamux, identify,
 * ping, and discovery by mDNS, bootstrap addresses and a private kad-dht. Knows nothing of
 * Herald's frames: it hands streams up and dials when asked.
 */
export class Overlay {
  node!: Libp2p
  readonly linkProtocol: string
  readonly tunnelProtocol: string
  private readonly init: OverlayInit
  private handlers: OverlayHandlers | undefined
  private readonly lastDial = new Map<string, number>()
  private bootstrapTimer: ReturnType<typeof setTimeout> | undefined
  private stopped = false

  constructor(init: OverlayInit) {
    this.init = init
    const net = encodeURIComponent(init.network)
    this.linkProtocol = `${PROTOCOL_PREFIX}/${net}/link/1.0.0`
    this.tunnelProtocol = `${PROTOCOL_PREFIX}/${net}/tunnel/1.0.0`
  }

  get nodeId(): string {
    return this.node.peerId.toString()
  }

  /** Dialable overlay addresses (with /p2p/<id>), usable as --bootstrap by another relay. */
  addrs(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  async start(handlers: OverlayHandlers): Promise<void> {
    this.handlers = handlers
    const net = encodeURIComponent(this.init.network)
    const privateKey = await loadIdentity(this.init.dataDir)
    // Optional parts are loaded only when used: each module costs resident memory.
    const peerDiscovery = []
    if (this.init.mdns) {
      const { mdns } = await import('@libp2p/mdns')
      const make = mdns({ serviceTag: `_herald-${net}._udp.local`, interval: 1000 })
      // libp2p turns a discovery into 'peer:discovery' only for a peer new to its peer store,
      // so a relay we were once connected to (a partition, a connection aborted under load, a
      // restart with the same identity) would never be dialled again however often mDNS sees
      // it. Every mDNS sighting of a relay we are not connected to is worth a (rate-limited) dial.
      peerDiscovery.push((components: Parameters<typeof make>[0]) => {
        const d = make(components)
        d.addEventListener('peer', (e) => {
          const id = e.detail.id.toString()
          if (this.node === undefined || id === this.nodeId || this.isConnected(id)) return
          this.dialAddrs(id, e.detail.multiaddrs.map((a) => a.toString()))
        })
        return d
      })
    }
    if (this.init.bootstrap.length > 0) {
      const { bootstrap } = await import('@libp2p/bootstrap')
      peerDiscovery.push(bootstrap({ list: this.init.bootstrap, timeout: 10 }))
    }
    const connectionProtector = this.init.cloak === true
      ? (await import('./pnet.js')).cloakProtector(this.init.network, this.init.networkKey)
      : undefined
    this.node = await createLibp2p({
      privateKey,
      addresses: { listen: this.init.listen },
      transports: [tcp()],
      connectionEncrypters: [noise({ prologueBytes: noisePrologue(this.init.network, this.init.networkKey) })],
      streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: 4 << 20, maxStreamWindowSize: 16 << 20 } })],
      peerDiscovery,
      ...(connectionProtector !== undefined ? { connectionProtector } : {}),
      connectionManager: {
        // Relays on one host or LAN would hit the per-IP inbound rate limit (5/s) otherwise.
        allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip4/10.0.0.0/ipcidr/8', '/ip4/172.16.0.0/ipcidr/12', '/ip4/192.168.0.0/ipcidr/16'],
        reconnectRetries: 3,
      },
      // Notice a frozen peer in about a second, not the default ten.
      // Ping every second. The timeout adapts to measured round trips between 1.5 s and 5 s:
      // shorter ones aborted healthy connections whenever a loaded machine (or a link full of
      // events) delayed a ping. A frozen relay still leaves every view after 2.5 s (directory
      // expiry); its connection goes a little later.
      connectionMonitor: { pingInterval: 1000, pingTimeout: { minTimeout: 1500, maxTimeout: 5000 } },
      services: {
        identify: identify(),
        // The connection monitor (every second, above) and kad-dht's routing table both ping
        // over /ipfs/ping/1.0.0. With ping's default stream limits (1 outbound, 2 inbound) the
        // two collide; the monitor takes the refused stream for a dead peer and aborts the
        // connection.
        ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 8 }),
        dht: kadDHT({
          protocol: `${PROTOCOL_PREFIX}/${net}/kad/1.0.0`,
          clientMode: false,
          peerInfoMapper: removePublicAddressesMapper,
        }),
      },
    })
    await this.node.handle(this.linkProtocol, (stream, connection) => {
      this.handlers?.onLinkStream(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 4, maxOutboundStreams: 4 })
    await this.node.handle(this.tunnelProtocol, (stream, connection) => {
      this.handlers?.onTunnelStream(stream, connection.remotePeer.toString())
    }, { maxInboundStreams: 1024, maxOutboundStreams: 1024 })
    this.node.addEventListener('peer:discovery', (e) => {
      const id = e.detail.id
      if (id.equals(this.node.peerId) || this.node.getConnections(id).length > 0) return
      this.node.dial(id).catch((err: unknown) => this.init.log(`dial ${id.toString()} failed: ${describe(err)}`))
    })
    this.node.addEventListener('connection:open', (e) => {
      const c: Connection = e.detail
      this.handlers?.onConnect(c.remotePeer.toString())
    })
    this.node.addEventListener('peer:disconnect', (e) => {
      this.handlers?.onDisconnect(e.detail.toString())
    })
    this.redialBootstrap(1000)
  }

  /**
   * @libp2p/bootstrap dials each address once, at start, and never again: a relay started
   * before its bootstrap relay, or whose first connection dropped before it learned the
   * directory, would stay alone for good. So bootstrap relays we have no connection to are
   * redialled, backing off from 1 s to 30 s (back to 1 s once all are connected).
   */
  private redialBootstrap(delayMs: number): void {
    if (this.init.bootstrap.length === 0 || this.stopped) return
    this.bootstrapTimer = setTimeout(() => {
      let missing = false
      for (const a of this.init.bootstrap) {
        const id = /\/p2p\/([^/]+)$/.exec(a)?.[1]
        if (id === undefined || id === this.nodeId) continue
        try {
          if (this.node.getConnections(peerIdFromString(id)).length > 0) continue
          missing = true
          this.node.dial(multiaddr(a)).catch(() => {}) // quiet: the relay may simply not be up yet
        } catch {
          // a malformed address: the CLI checks them, so only a library user can get here
        }
      }
      this.redialBootstrap(missing ? Math.min(delayMs * 2, 30_000) : 1000)
    }, delayMs)
    this.bootstrapTimer.unref()
  }

  /** Asks libp2p to redial `remote` by itself if the connection drops (a linked relay). */
  keepAlive(remote: string): void {
    try {
      this.node.peerStore.merge(peerIdFromString(remote), { tags: { [KEEP_ALIVE]: { value: 1 } } }).catch(() => {})
    } catch {
      // not a peer id: nothing to keep
    }
  }

  isConnected(remote: string): boolean {
    try {
      return this.node.getConnections(peerIdFromString(remote)).length > 0
    } catch {
      return false
    }
  }

  /** Dials a relay by its directory addresses (full mesh), quietly. */
  dialAddrs(remote: string, addrs: string[]): void {
    // At most one attempt per relay every few seconds: the heartbeat asks every second, and a
    // flood of forged entries must not turn into a flood of dials.
    const now = Date.now()
    if (now - (this.lastDial.get(remote) ?? 0) < DIAL_INTERVAL_MS) return
    if (this.lastDial.size > 8192) this.lastDial.clear()
    this.lastDial.set(remote, now)
    let id: PeerId
    try {
      id = peerIdFromString(remote)
    } catch {
      return
    }
    if (this.node.getConnections(id).length > 0) return
    const mas = addrs.map((a) => { try { return multiaddr(a) } catch { return undefined } }).filter((a) => a !== undefined)
    if (mas.length === 0) return
    this.node.peerStore.merge(id, { multiaddrs: mas }).then(() => this.node.dial(id)).catch((err: unknown) => {
      this.init.log(`dial ${remote} failed: ${describe(err)}`)
    })
  }

  /** Announces in the DHT that this relay serves `cluster` (best effort, in the background). */
  provide(cluster: string): void {
    clusterKey(cluster).then((cid) => this.node.contentRouting.provide(cid)).catch(() => {})
  }

  /** Relays the DHT knows to serve `cluster` (ids and addresses), within `timeoutMs`. */
  async findProviders(cluster: string, timeoutMs: number): Promise<Array<{ id: string; addrs: string[] }>> {
    const out = new Map<string, string[]>()
    try {
      const cid = await clusterKey(cluster)
      for await (const p of this.node.contentRouting.findProviders(cid, { signal: AbortSignal.timeout(timeoutMs) })) {
        const id = p.id.toString()
        if (id === this.nodeId) continue
        const addrs = new Set([...(out.get(id) ?? []), ...p.multiaddrs.map((a) => a.toString())])
        out.set(id, [...addrs])
      }
    } catch {
      // a timeout or no DHT peers: what was found so far is the answer
    }
    return [...out].map(([id, addrs]) => ({ id, addrs }))
  }

  openLink(remote: string): Promise<Stream> {
    return this.node.dialProtocol(peerIdFromString(remote), this.linkProtocol)
  }

  openTunnel(remote: string, signal: AbortSignal): Promise<Stream> {
    return this.node.dialProtocol(peerIdFromString(remote), this.tunnelProtocol, { signal })
  }

  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.bootstrapTimer)
    await this.node.stop()
  }
}

const DIAL_INTERVAL_MS = 3000

/** The DHT key of a cluster: a CID of its name (the DHT is private to the network anyway). */
async function clusterKey(cluster: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`herald-cluster:${cluster}`)))
}

/** libp2p sometimes rejects with event objects rather than Errors: describe either. */
export function describe(err: unknown): string {
  if (err instanceof Error) return err.message
  if (typeof err === 'object' && err !== null && 'type' in err) return `stream ${String((err as { type: unknown }).type)}`
  return String(err)
}
