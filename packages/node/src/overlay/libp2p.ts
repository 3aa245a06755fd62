import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@libp2p/yamux'
import { identify } from '@libp2p/identify'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { type PeerId, type PrivateKey, type Connection } from '@libp2p/interface'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { mdnsServiceTag, overlayProtocolId } from '@herald/wire'
import { noisePrologue } from './network-key.js'
import { Libp2pByteStream } from './libp2p-stream.js'
import { corkTcpWrites, coalescedWindowUpdates, quietLengthDecoding, withNoiseDecryptPatch } from './libp2p-patches.js'
import { toError, type ByteStream, type Overlay, type OverlayEvents, type Provider, type StreamKind } from './overlay.js'

export interface Libp2pOverlayInit {
  network: string
  networkKey: Uint8Array
  /** Listen addresses (multiaddrs). */
  listen: string[]
  /** Discover relays on the LAN by mDNS. */
  mdns: boolean
  /** Run a private kad-dht (cluster provider records, lookups beyond the directory). */
  dht?: boolean
  /** Addresses to advertise instead of the listen addresses (a proxy in front, NAT). */
  announce?: string[]
  /** Keeps the peer identity across restarts (file `peer-key`, mode 0600). */
  dataDir?: string
  /** Also wrap every connection in @libp2p/pnet (hides even the libp2p handshake). */
  cloak?: boolean
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

function peerId(peer: string): PeerId | undefined {
  try {
    return peerIdFromString(peer)
  } catch {
    return undefined
  }
}

/**
 * The overlay port on a libp2p host: TCP + Noise (network key in the prologue) + Yamux,
 * identify, ping, mDNS and a private kad-dht. Knows nothing of Herald's frames: it hands
 * streams up and dials when asked.
 */
export class Libp2pOverlay implements Overlay {
  readonly nodeId: string
  private readonly init: Libp2pOverlayInit
  private readonly privateKey: PrivateKey
  private readonly protocols: Record<StreamKind, string>
  private started: { node: Libp2p; events: OverlayEvents } | undefined
  /** The TCP write patch is in place (libp2p-patches.ts). */
  private corked = false
  /** mDNS: queries the LAN on demand (discover()), answers others' queries always. */
  private mdnsQuery: (() => void) | undefined

  /** The identity is loaded (or made) first, so the node id is known before start. */
  static async create(init: Libp2pOverlayInit): Promise<Libp2pOverlay> {
    return new Libp2pOverlay(init, await loadIdentity(init.dataDir))
  }

  private constructor(init: Libp2pOverlayInit, privateKey: PrivateKey) {
    this.init = init
    this.privateKey = privateKey
    this.nodeId = peerIdFromPrivateKey(privateKey).toString()
    this.protocols = { link: overlayProtocolId(init.network, 'link'), tunnel: overlayProtocolId(init.network, 'tunnel') }
  }

  private get node(): Libp2p {
    if (this.started === undefined) throw new Error('the overlay is not started')
    return this.started.node
  }

  addrs(): string[] {
    return this.node.getMultiaddrs().map((a) => a.toString())
  }

  async start(events: OverlayEvents): Promise<void> {
    quietLengthDecoding()
    coalescedWindowUpdates()
    // Optional parts are loaded only when used: each module costs resident memory.
    const peerDiscovery = []
    if (this.init.mdns) {
      const { mdns } = await import('@libp2p/mdns')
      const serviceTag = mdnsServiceTag(this.init.network)
      // Relays answer every query, but ask the LAN themselves only when discover() says so (a
      // relay with no neighbor): every mDNS response is multicast, so periodic queries from
      // every relay would cost each relay O(N) packets a period. The interval is a backstop.
      const make = mdns({ serviceTag, interval: 3600_000 })
      // libp2p turns a discovery into 'peer:discovery' only for a peer new to its peer store,
      // so a relay we were once connected to (a partition, a restart with the same identity)
      // would never be reported again however often mDNS sees it. Every sighting is reported.
      peerDiscovery.push((components: Parameters<typeof make>[0]) => {
        const d = make(components)
        this.mdnsQuery = () => {
          (d as unknown as { mdns?: { query(q: unknown): void } }).mdns?.query({ questions: [{ name: serviceTag, type: 'PTR' }] })
        }
        d.addEventListener('peer', (e) => {
          const id = e.detail.id.toString()
          if (this.started === undefined || id === this.nodeId || this.isConnected(id)) return
          events.discovered?.(id, e.detail.multiaddrs.map((a) => a.toString()))
        })
        return d
      })
    }
    const connectionProtector = this.init.cloak === true
      ? (await import('./pnet.js')).cloakProtector(this.init.network, this.init.networkKey)
      : undefined
    const node = await createLibp2p({
      privateKey: this.privateKey,
      addresses: { listen: this.init.listen, ...(this.init.announce !== undefined ? { announce: this.init.announce } : {}) },
      transports: [tcp()],
      connectionEncrypters: [withNoiseDecryptPatch(noise({ prologueBytes: noisePrologue(this.init.network, this.init.networkKey) }))],
      // yamux's own default window (256 KiB, doubling up to 16 MiB while frames arrive within 4
      // round trips of each other, i.e. on any busy stream): a larger initial window (4 MiB) let
      // megabytes of a pub/sub stream be in flight ahead of a request or a probe on a loaded LAN
      // link, for no throughput gain. Small window updates are coalesced (patch 3 in
      // libp2p-patches.ts).
      streamMuxers: [yamux({ streamOptions: { initialStreamWindowSize: 256 << 10, maxStreamWindowSize: 16 << 20 } })],
      peerDiscovery,
      ...(connectionProtector !== undefined ? { connectionProtector } : {}),
      connectionManager: {
        // Relays on one host or LAN would hit the per-IP inbound rate limit (5/s) otherwise.
        allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip4/10.0.0.0/ipcidr/8', '/ip4/172.16.0.0/ipcidr/12', '/ip4/192.168.0.0/ipcidr/16'],
        reconnectRetries: 3,
      },
      // No connection monitor: its fixed ping timeout took slow links (250 ms one way) for
      // dead ones and aborted them, with every stream on them. Liveness is the membership
      // protocol's business (phi-accrual per neighbor, indirect probes: directory/), which
      // tells a slow relay from a dead one; a relay declared dead has its links closed.
      connectionMonitor: { enabled: false },
      services: { identify: identify(), ...(await this.dhtServices()) },
    })
    this.started = { node, events }
    const limits: Record<StreamKind, number> = { link: 4, tunnel: 1024 }
    for (const kind of ['link', 'tunnel'] as const) {
      await node.handle(this.protocols[kind], (stream, connection) => {
        events.inbound(new Libp2pByteStream(stream, kind, connection.remotePeer.toString()))
      }, { maxInboundStreams: limits[kind], maxOutboundStreams: limits[kind] })
    }
    node.addEventListener('peer:discovery', (e) => {
      const id = e.detail.id
      if (id.equals(node.peerId) || node.getConnections(id).length > 0) return
      const addrs = e.detail.multiaddrs.map((a) => a.toString())
      events.discovered?.(id.toString(), addrs)
    })
    node.addEventListener('connection:open', (e) => {
      const c: Connection = e.detail
      if (!this.corked) this.corked = corkTcpWrites((c as unknown as { maConn?: unknown }).maConn)
      events.connected(c.remotePeer.toString())
    })
    node.addEventListener('peer:disconnect', (e) => {
      events.disconnected(e.detail.toString())
    })
  }

  /** The private DHT, only when asked for: it costs memory and background traffic. */
  private async dhtServices(): Promise<Record<string, never>> {
    if (this.init.dht !== true) return {}
    const { ping } = await import('@libp2p/ping')
    const { kadDHT, removePublicAddressesMapper } = await import('@libp2p/kad-dht')
    return {
      // kad-dht needs ping (and identify) to run.
      ping: ping({ maxOutboundStreams: 8, maxInboundStreams: 8 }),
      dht: kadDHT({
        protocol: overlayProtocolId(this.init.network, 'kad'),
        clientMode: false,
        peerInfoMapper: removePublicAddressesMapper,
      }),
    } as unknown as Record<string, never>
  }

  discover(): void {
    this.mdnsQuery?.()
  }

  isConnected(peer: string): boolean {
    const id = peerId(peer)
    return id !== undefined && this.node.getConnections(id).length > 0
  }

  /** With addresses, dials only those (none usable: nothing to do); without, what the peer store knows. */
  async dial(peer: string, addrs?: readonly string[]): Promise<void> {
    const id = peerId(peer)
    if (id === undefined || this.node.getConnections(id).length > 0) return
    if (addrs !== undefined && addrs.length > 0) {
      const mas = addrs.map((a) => { try { return multiaddr(a) } catch { return undefined } }).filter((a): a is Multiaddr => a !== undefined)
      if (mas.length === 0) return
      await this.node.peerStore.merge(id, { multiaddrs: mas })
    }
    await this.node.dial(id).catch((err: unknown) => { throw toError(err) })
  }

  async hangUp(peer: string): Promise<void> {
    const id = peerId(peer)
    if (id !== undefined) await this.node.hangUp(id).catch(() => {})
  }

  async openStream(peer: string, kind: StreamKind, options: { signal?: AbortSignal } = {}): Promise<ByteStream> {
    const id = peerId(peer)
    if (id === undefined) throw new Error(`not a peer id: ${peer}`)
    try {
      const stream = await this.node.dialProtocol(id, this.protocols[kind], options.signal !== undefined ? { signal: options.signal } : {})
      return new Libp2pByteStream(stream, kind, peer)
    } catch (err) {
      throw toError(err)
    }
  }

  provide(cluster: string): void {
    if (this.init.dht !== true) return
    clusterKey(cluster).then((cid) => this.node.contentRouting.provide(cid)).catch(() => {})
  }

  async findProviders(cluster: string, timeoutMs: number): Promise<Provider[]> {
    if (this.init.dht !== true) return []
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

  async stop(): Promise<void> {
    await this.started?.node.stop()
  }
}

/** The DHT key of a cluster: a CID of its name (the DHT is private to the network anyway). */
async function clusterKey(cluster: string): Promise<CID> {
  return CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(`herald-cluster:${cluster}`)))
}
