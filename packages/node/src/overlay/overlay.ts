/**
 * overlay/ — the network under the relays: who is connected to whom, and byte streams
 * between them. This file is the port the rest of the relay uses; `libp2p.ts` implements it
 * with a libp2p host (TCP, Noise with the network key, Yamux, mDNS, kad-dht) and `memory.ts`
 * with in-process pipes, so many relays can run in one process (tests, simulations).
 *
 * May import: nothing else of the relay (only @herald/wire and libraries).
 */

/** What a stream carries: the peer link (one per pair of relays) or one tunnel. */
export type StreamKind = 'link' | 'tunnel'

export interface ByteStreamEvents {
  /** Bytes arrived (any chunking). */
  message(bytes: Uint8Array): void
  /** The write buffer drained after send() returned false. */
  drain(): void
  /** The other end closed its write side: nothing more will arrive. */
  remoteClose(): void
  /** The stream is gone for good (closed both ways, aborted or reset); `err` when not graceful. */
  close(err?: Error): void
}

/** One ordered, reliable byte stream to another relay. */
export interface ByteStream {
  readonly kind: StreamKind
  readonly remotePeer: string
  /**
   * Queues bytes for sending; the stream keeps the buffer (do not reuse it). False: queued,
   * but the stream is backed up; wait for `drain`. Throws once the write side is closed.
   */
  send(bytes: Uint8Array): boolean
  /** Bytes queued and not yet sent. */
  readonly writeBufferLength: number
  /** Closes the write side once queued bytes are sent; reading goes on until the other end closes. */
  close(): Promise<void>
  /** Drops the stream at once, both ways. */
  abort(err: Error): void
  /** Starts delivering events (call once); what arrived before is delivered then. */
  attach(events: ByteStreamEvents): void
}

/** What the overlay tells its user. */
export interface OverlayEvents {
  /** A connection to `peer` opened (there may be more than one per peer). */
  connected(peer: string): void
  /** The last connection to `peer` closed. */
  disconnected(peer: string): void
  /** Another relay opened a stream to us. */
  inbound(stream: ByteStream): void
  /** Discovery (mDNS, the DHT) saw `peer` at `addrs`; the user decides whether to dial. */
  discovered?(peer: string, addrs: string[]): void
}

/** A relay that serves a cluster, as a provider lookup found it. */
export interface Provider {
  id: string
  addrs: string[]
}

export interface Overlay {
  /** This relay's peer id (valid once started). */
  readonly nodeId: string
  /** Dialable addresses, each ending in /p2p/<peer id>. */
  addrs(): string[]
  start(events: OverlayEvents): Promise<void>
  stop(): Promise<void>
  isConnected(peer: string): boolean
  /**
   * Connects to `peer`: at one of `addrs` when given (none usable: nothing happens), else at
   * the addresses the overlay knows. No-op when connected; rejects when the dial fails.
   */
  dial(peer: string, addrs?: readonly string[]): Promise<void>
  /** Closes every connection to `peer` (its streams die with them). */
  hangUp(peer: string): Promise<void>
  /** Opens a stream of `kind` to `peer`, dialling it (by known addresses) if needed. */
  openStream(peer: string, kind: StreamKind, options?: { signal?: AbortSignal }): Promise<ByteStream>
  /** Asks the overlay to keep (and redial) the connection to a relay we are linked with. */
  keepAlive?(peer: string): void
  /** Announces that this relay serves `cluster` (best effort, in the background). */
  provide?(cluster: string): void
  /** Relays known to serve `cluster`, found within `timeoutMs`. */
  findProviders?(cluster: string, timeoutMs: number): Promise<Provider[]>
}

/** The peer id in an address ending in /p2p/<id>, if it has one. */
export function peerOfAddr(addr: string): string | undefined {
  return /\/p2p\/([^/]+)$/.exec(addr)?.[1]
}

/** libp2p sometimes rejects with event objects rather than Errors: an Error either way. */
export function toError(err: unknown): Error {
  if (err instanceof Error) return err
  if (typeof err === 'object' && err !== null && 'type' in err) return new Error(`stream ${String((err as { type: unknown }).type)}`)
  return new Error(String(err))
}
