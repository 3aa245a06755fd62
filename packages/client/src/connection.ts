import { ErrorCode, FrameType, MAX_OPENER_ID, Role, WireError, nameBytes, type Frame, type MemberLimits, type WelcomeFrame } from '@herald/wire'
import {
  ClosedError, HeraldError, MessageTooLargeError, errorFromWire,
} from './errors.js'
import {
  DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_SUBSCRIPTION_MEMORY, DEFAULT_TUNNEL_TIMEOUT_MS,
} from './constants.js'
import { Subscription, type SubscriptionHandler, type SubscriptionLimits } from './subscription.js'
import type { Tunnel } from './tunnel.js'
import { TunnelTable } from './tunnel-table.js'
import { PendingCalls } from './pending.js'
import { Subscriptions } from './subscriptions.js'
import { Transport } from './transport.js'
import { RESOLVED, abortError, checkTimeout, toBytes, withDeadline, type Payload, type WaitOptions } from './util.js'
import { SealKind, seal, type KeyRing } from './keys.js'
import type { TunnelCrypto } from './tunnel.js'
import { rings, type ConnectOptions } from './options.js'

export type { ConnectOptions } from './options.js'

export type RequestOptions = WaitOptions
export type TunnelOptions = WaitOptions

/** Internal hooks a member (register()) installs on its connection. */
export interface MemberHooks {
  onRequest(conn: Connection, id: number, payload: Uint8Array): void
  onBroadcast(payload: Uint8Array): void
  onTunnel(conn: Connection, id: number): void
}

/** A connection to the local relay. Create it with `connect()`. */
export class Connection {
  private readonly transport: Transport
  private welcome: WelcomeFrame | undefined
  private readonly calls = new PendingCalls()
  private readonly subs = new Subscriptions()
  private readonly tunnels = new TunnelTable(this)
  private nextId = 1
  private isClosed = false
  private closing = false
  private readonly member: MemberHooks | undefined
  private readonly onDrop: ((reason: HeraldError) => void) | undefined
  private readonly clusterRings: Map<string, KeyRing>
  private readonly topicRings: Map<string, KeyRing>
  /** Resolves when the connection ends: undefined after close(), the error after a drop. */
  readonly closed: Promise<HeraldError | undefined>
  private resolveClosed!: (e: HeraldError | undefined) => void

  /** Internal: use connect() or register(); then await handshake(). */
  constructor(options: ConnectOptions, role: Role, member?: MemberHooks) {
    // Keys are parsed first: a bad key is an error with no connection to clean up.
    this.clusterRings = rings(options.clusterKeys)
    this.topicRings = rings(options.topicKeys)
    this.onDrop = options.onDrop
    this.member = member
    this.closed = new Promise((r) => { this.resolveClosed = r })
    this.transport = new Transport({
      host: options.host ?? DEFAULT_HOST,
      port: options.port ?? DEFAULT_PORT,
      ...(options.socketPath !== undefined ? { socketPath: options.socketPath } : {}),
      ...(options.socket !== undefined ? { socket: options.socket } : {}),
      role,
      connectTimeoutMs: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    }, {
      onFrame: (f) => this.onFrame(f),
      onEvent: (topic, payload) => this.subs.deliver(topic, payload),
      onClose: (e) => this.onTransportClose(e),
    })
  }

  /** Internal: resolves once the relay welcomed this connection; rejects when it could not connect. */
  async handshake(): Promise<void> {
    this.welcome = await this.transport.ready
  }

  private get welcomed(): WelcomeFrame {
    if (this.welcome === undefined) throw new ClosedError('the connection is not open yet')
    return this.welcome
  }

  /** The relay's node id (its overlay peer id). */
  get nodeId(): string {
    return this.welcomed.nodeId
  }

  /** The largest payload the relay accepts. */
  get maxMessageBytes(): number {
    return this.welcomed.maxMessageBytes
  }

  private ensureOpen(): void {
    if (this.isClosed || this.closing) throw new ClosedError('connection is closed')
  }

  private checkSize(bytes: Uint8Array, what: string): void {
    if (bytes.length > this.maxMessageBytes) {
      throw new MessageTooLargeError(`${what} of ${bytes.length} bytes exceeds the limit of ${this.maxMessageBytes}`)
    }
  }

  private checkName(name: string, what: string): Uint8Array {
    if (typeof name !== 'string') throw new HeraldError('INVALID', `${what} must be a string`)
    try {
      return nameBytes(name)
    } catch (err) {
      if (err instanceof WireError) throw new HeraldError('INVALID', `${what} "${name}": ${err.message}`)
      throw err
    }
  }

  /** Request and tunnel ids: below 2^31 (the relay numbers tunnels it hands to members from 2^31). */
  private allocId(inUse: ReadonlyMap<number, unknown>): number {
    for (;;) {
      const id = this.nextId
      this.nextId = this.nextId >= MAX_OPENER_ID ? 1 : this.nextId + 1
      if (!inUse.has(id)) return id
    }
  }

  /** Internal: queue a frame for the relay. */
  sendFrame(frame: Frame): void {
    this.transport.send(frame)
  }

  /** Internal: hot-path sends for members and tunnels. */
  sendIdPayload(type: number, id: number, payload: Uint8Array): void {
    this.transport.sendIdPayload(type, id, payload)
  }

  private backpressure(): Promise<void> {
    return this.transport.congested ? this.transport.drained() : RESOLVED
  }

  /** Sends a request to one member of `cluster` (chosen by load) and waits for its reply. */
  request(cluster: string, payload: Payload, options: RequestOptions = {}): Promise<Uint8Array> {
    try {
      this.ensureOpen()
      this.checkName(cluster, 'cluster')
      const ring = this.clusterRings.get(cluster)
      const bytes = ring === undefined ? toBytes(payload) : seal(ring, SealKind.request, cluster, toBytes(payload))
      this.checkSize(bytes, 'request')
      const timeoutMs = checkTimeout(options.timeoutMs, DEFAULT_REQUEST_TIMEOUT_MS)
      if (options.signal?.aborted === true) throw abortError(options.signal, `request to "${cluster}"`)
      const id = this.allocId(this.calls.requestIds)
      return this.calls.request(id, cluster, ring, { timeoutMs, signal: options.signal }, () => {
        this.transport.send({ type: FrameType.request, id, timeoutMs, cluster, payload: bytes })
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Sends `payload` to every member of `cluster`, on every relay. Best effort, no reply. */
  broadcast(cluster: string, payload: Payload): Promise<void> {
    return this.sendToName(FrameType.broadcast, cluster, payload)
  }

  /** Publishes an event to every subscriber of `topic`. Resolves at once unless the socket is backed up. */
  publish(topic: string, payload: Payload): Promise<void> {
    return this.sendToName(FrameType.publish, topic, payload)
  }

  /** BROADCAST or PUBLISH: sealed when the name has a key, written straight into the batch. */
  private sendToName(type: typeof FrameType.broadcast | typeof FrameType.publish, target: string, payload: Payload): Promise<void> {
    try {
      this.ensureOpen()
      const isTopic = type === FrameType.publish
      const name = this.checkName(target, isTopic ? 'topic' : 'cluster')
      const ring = (isTopic ? this.topicRings : this.clusterRings).get(target)
      const bytes = ring === undefined ? toBytes(payload) : seal(ring, isTopic ? SealKind.event : SealKind.broadcast, target, toBytes(payload))
      this.checkSize(bytes, isTopic ? 'event' : 'broadcast')
      this.transport.sendNamed(type, name, bytes)
      return this.backpressure()
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /**
   * Subscribes to `topic`. Resolves once the relay has the subscription in place, so events
   * published after that are delivered. Iterate the result, or pass a handler.
   */
  async subscribe(
    topic: string,
    handler?: SubscriptionHandler,
    limits: SubscriptionLimits = {},
    options: WaitOptions = {},
  ): Promise<Subscription> {
    this.ensureOpen()
    this.checkName(topic, 'topic')
    const memoryLimit = limits.memory ?? DEFAULT_SUBSCRIPTION_MEMORY
    if (!Number.isInteger(memoryLimit) || memoryLimit < 0 || memoryLimit > 0xffffffff) {
      throw new HeraldError('INVALID', 'limits.memory must be an integer number of bytes (0..4 GiB)')
    }
    const ring = this.topicRings.get(topic)
    const sub = new Subscription({
      topic, memoryLimit, owner: this, ...(handler !== undefined ? { handler } : {}), ...(ring !== undefined ? { ring } : {}),
    })
    this.subs.add(sub)
    try {
      await this.ack({ type: FrameType.subscribe, seq: 0, topic, memoryLimit }, options)
    } catch (err) {
      this.subs.remove(sub)
      sub.markClosed(err as Error)
      throw err
    }
    return sub
  }

  /** Internal: a subscription's unsubscribe(). */
  async unsubscribeTopic(sub: Subscription): Promise<void> {
    if (!this.subs.remove(sub) || this.isClosed) return
    await this.ack({ type: FrameType.unsubscribe, seq: 0, topic: sub.topic }, { timeoutMs: DEFAULT_CONNECT_TIMEOUT_MS })
  }

  /** Internal: a subscription's drain(): events keep arriving until the relay confirms (its ACK follows them). */
  async drainTopic(sub: Subscription): Promise<void> {
    if (this.isClosed || this.closing) return
    // Events up to the ACK are the subscription's; none after it.
    const remove = (): void => { this.subs.remove(sub) }
    try {
      await this.ack({ type: FrameType.unsubscribe, seq: 0, topic: sub.topic }, { timeoutMs: DEFAULT_CONNECT_TIMEOUT_MS }, remove)
    } finally {
      remove()
    }
  }

  /** Opens a tunnel to one member of `cluster`. */
  tunnel(cluster: string, options: TunnelOptions = {}): Promise<Tunnel> {
    try {
      this.ensureOpen()
      this.checkName(cluster, 'cluster')
      const timeoutMs = checkTimeout(options.timeoutMs, DEFAULT_TUNNEL_TIMEOUT_MS)
      const id = this.allocId(this.tunnels.ids)
      const ring = this.clusterRings.get(cluster)
      const crypto: TunnelCrypto | undefined = ring === undefined ? undefined : { ring, name: cluster, sendKind: SealKind.toMember, recvKind: SealKind.toClient }
      const { tunnel, accepted } = this.tunnels.open(id, crypto)
      this.transport.send({ type: FrameType.tunnelOpen, tunnel: id, timeoutMs, cluster })
      return withDeadline(accepted, { ...options, timeoutMs: timeoutMs + 250 }, `tunnel to "${cluster}"`, () => {
        if (this.tunnels.abandon(id)) void tunnel.close()
      })
    } catch (err) {
      return Promise.reject(err)
    }
  }

  /** Internal: register/unregister/subscribe/unsubscribe wait for the relay's ACK. */
  ack(frame: Frame & { seq: number }, options: WaitOptions = {}, onAck?: () => void): Promise<void> {
    this.ensureOpen()
    const wait = { timeoutMs: options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS, ...(options.signal ? { signal: options.signal } : {}) }
    return this.calls.ack((seq) => {
      frame.seq = seq
      this.transport.send(frame)
    }, wait, onAck)
  }

  /** Internal: a member's registration. */
  register(cluster: string, limits: MemberLimits, options: WaitOptions = {}): Promise<void> {
    this.checkName(cluster, 'cluster')
    return this.ack({ type: FrameType.register, seq: 0, cluster, ...limits }, options)
  }

  /** Internal: a tunnel ended. */
  forgetTunnel(id: number): void {
    this.tunnels.forget(id)
  }

  /** Internal: a member accepted a tunnel; the member's end. */
  acceptTunnel(id: number, crypto?: TunnelCrypto): Tunnel {
    return this.tunnels.accept(id, crypto)
  }

  private onFrame(f: Frame): void {
    switch (f.type) {
      case FrameType.event:
        this.subs.deliver(f.topic, f.payload)
        return
      case FrameType.reply:
        this.calls.reply(f)
        return
      case FrameType.failure:
        this.calls.failure(f)
        return
      case FrameType.tunnelData:
      case FrameType.tunnelAllowance:
      case FrameType.tunnelAccept:
      case FrameType.tunnelClose:
        this.tunnels.onFrame(f)
        return
      case FrameType.ack:
        this.calls.acked(f)
        return
      case FrameType.dropped:
        this.subs.dropped(f.topic, f.count)
        return
      case FrameType.request:
        if (this.member !== undefined) this.member.onRequest(this, f.id, f.payload)
        else this.transport.send({ type: FrameType.failure, id: f.id, code: ErrorCode.noMembers, message: 'not a member' })
        return
      case FrameType.broadcast:
        this.member?.onBroadcast(f.payload)
        return
      case FrameType.tunnelOpen:
        if (this.member !== undefined) this.member.onTunnel(this, f.tunnel)
        else this.transport.send({ type: FrameType.tunnelClose, tunnel: f.tunnel, code: ErrorCode.invalid, reason: 'not a member' })
        return
      case FrameType.ping:
        this.transport.send({ type: FrameType.pong, token: f.token })
        return
      case FrameType.close:
      case FrameType.error:
        // The relay says goodbye; the socket close that follows does the cleanup.
        this.dropReason = errorFromWire(f.code, 'message' in f ? f.message : f.reason)
        return
      default:
        return
    }
  }

  private dropReason: HeraldError | undefined

  private onTransportClose(error: HeraldError | undefined): void {
    if (this.isClosed) return
    this.isClosed = true
    const reason = this.closing ? new ClosedError('connection closed') : (this.dropReason ?? error ?? new ClosedError('the relay closed the connection'))
    this.calls.rejectAll(reason)
    this.tunnels.abortAll(reason)
    this.subs.closeAll(this.closing ? undefined : reason)
    if (!this.closing) {
      this.resolveClosed(reason)
      this.onDrop?.(reason)
    } else {
      this.resolveClosed(undefined)
    }
  }

  /** Closes the connection: pending calls reject with ClosedError; queued frames are sent first. */
  async close(): Promise<void> {
    if (this.isClosed || this.closing) return
    this.closing = true
    await this.transport.end()
    this.onTransportClose(undefined)
  }
}

/** Connects to the local relay. */
export async function connect(options: ConnectOptions = {}): Promise<Connection> {
  const conn = new Connection(options, Role.client)
  await conn.handshake()
  return conn
}
