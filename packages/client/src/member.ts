import { copyBytes, Deque, ErrorCode, FrameType, Role, type MemberLimits } from '@herald/wire'
import { Connection, type ConnectOptions } from './connection.js'
import { DEFAULT_MEMBER_LIMITS } from './constants.js'
import { HeraldError, MessageTooLargeError } from './errors.js'
import type { Tunnel } from './tunnel.js'
import { toBytes, type Payload } from './util.js'
import { SealKind, keyRing, open, seal, type ClusterKeys, type KeyRing } from './keys.js'

/** What a member of a cluster implements. Every method is optional but handleRequest's use. */
export interface MemberHandler {
  /** Called with the member's connection before any message is delivered. */
  init?(conn: Connection): void | Promise<void>
  /** Answers one request; may be async. A throw reaches the caller as RemoteError with its message. */
  handleRequest?(request: Uint8Array): Payload | void | Promise<Payload | void>
  /** One broadcast to the cluster. */
  handleBroadcast?(message: Uint8Array): void | Promise<void>
  /** The member's end of a tunnel a client opened. */
  handleTunnel?(tunnel: Tunnel): void | Promise<void>
  /** The relay connection was lost (not called after close()). */
  handleDrop?(reason: HeraldError): void
}

export interface RegisterOptions extends ConnectOptions {
  cluster: string
  handler: MemberHandler
  limits?: Partial<MemberLimits>
  /** The cluster key, or [sealKey, ...acceptedKeys]: payloads are sealed end to end. */
  key?: ClusterKeys
}

export interface MemberStats {
  requests: number
  failedRequests: number
  broadcasts: number
  droppedBroadcasts: number
  tunnels: number
  /** Payloads that could not be opened with the cluster key (rejected, never handed to the handler). */
  rejected: number
}

/** A registered member of a cluster. */
export class Service {
  readonly cluster: string
  readonly conn: Connection
  readonly limits: MemberLimits
  private readonly handler: MemberHandler
  /** Broadcasts waiting while broadcastConcurrency handlers run, bounded by broadcastMemory. */
  private readonly broadcastQueue: Deque<Uint8Array>
  private broadcastsRunning = 0
  readonly stats: MemberStats = { requests: 0, failedRequests: 0, broadcasts: 0, droppedBroadcasts: 0, tunnels: 0, rejected: 0 }
  private readonly ring: KeyRing | undefined
  private running = 0
  private idle: (() => void) | undefined
  private closing: Promise<void> | undefined

  /** Internal: use register(). */
  constructor(init: { cluster: string; options: ConnectOptions; limits: MemberLimits; handler: MemberHandler; ring?: KeyRing }) {
    this.ring = init.ring
    this.cluster = init.cluster
    this.limits = init.limits
    this.handler = init.handler
    this.broadcastQueue = new Deque({ maxBytes: init.limits.broadcastMemory, sizeOf: (b) => b.length })
    this.conn = new Connection({ ...init.options, onDrop: (reason) => init.handler.handleDrop?.(reason) }, Role.member, {
      onRequest: (conn, id, payload) => this.onRequest(conn, id, payload),
      onBroadcast: (payload) => this.onBroadcast(payload),
      onTunnel: (conn, id) => this.onTunnel(conn, id),
    })
  }

  private onRequest(conn: Connection, id: number, payload: Uint8Array): void {
    this.stats.requests++
    let keyId: number | undefined
    if (this.ring !== undefined) {
      try {
        const o = open(this.ring, SealKind.request, this.cluster, payload)
        payload = o.plain
        keyId = o.keyId
      } catch (err) {
        this.stats.rejected++
        conn.sendFrame({ type: FrameType.failure, id, code: ErrorCode.key, message: (err as Error).message })
        return
      }
    }
    const handle = this.handler.handleRequest
    if (handle === undefined) {
      conn.sendFrame({ type: FrameType.failure, id, code: ErrorCode.remote, message: `member of "${this.cluster}" does not handle requests` })
      return
    }
    let result: Payload | void | Promise<Payload | void>
    this.running++
    try {
      result = handle.call(this.handler, payload)
    } catch (err) {
      this.done()
      this.fail(conn, id, err)
      return
    }
    if (result instanceof Promise) {
      result.then(
        (r) => { this.done(); this.reply(conn, id, r, keyId) },
        (err: unknown) => { this.done(); this.fail(conn, id, err) },
      )
    } else {
      this.done()
      this.reply(conn, id, result, keyId)
    }
  }

  private done(): void {
    if (--this.running === 0) this.idle?.()
  }

  private reply(conn: Connection, id: number, result: Payload | void, keyId: number | undefined): void {
    let bytes: Uint8Array
    try {
      bytes = result === undefined ? new Uint8Array(0) : toBytes(result)
      // Answer with the key the caller used, so callers still on an old key keep working.
      if (this.ring !== undefined) bytes = seal(this.ring, SealKind.reply, this.cluster, bytes, keyId)
      if (bytes.length > conn.maxMessageBytes) throw new MessageTooLargeError(`reply of ${bytes.length} bytes exceeds the limit of ${conn.maxMessageBytes}`)
    } catch (err) {
      this.fail(conn, id, err)
      return
    }
    conn.sendIdPayload(FrameType.reply, id, bytes)
  }

  private fail(conn: Connection, id: number, err: unknown): void {
    this.stats.failedRequests++
    const message = err instanceof Error ? err.message : String(err)
    conn.sendFrame({ type: FrameType.failure, id, code: ErrorCode.remote, message })
  }

  private onBroadcast(payload: Uint8Array): void {
    if (this.handler.handleBroadcast === undefined) return
    if (this.ring !== undefined) {
      try {
        payload = open(this.ring, SealKind.broadcast, this.cluster, payload).plain
      } catch {
        this.stats.rejected++
        return
      }
    }
    if (this.broadcastsRunning < this.limits.broadcastConcurrency) {
      this.runBroadcast(payload)
      return
    }
    if (!this.broadcastQueue.fits(payload.length)) {
      this.stats.droppedBroadcasts++
      return
    }
    this.broadcastQueue.push(copyBytes(payload))
  }

  private runBroadcast(payload: Uint8Array): void {
    this.stats.broadcasts++
    this.broadcastsRunning++
    let r: void | Promise<void>
    try {
      r = this.handler.handleBroadcast!(payload)
    } catch {
      r = undefined
    }
    if (r instanceof Promise) r.then(() => this.broadcastDone(), () => this.broadcastDone())
    else this.broadcastDone()
  }

  private broadcastDone(): void {
    this.broadcastsRunning--
    const next = this.broadcastQueue.shift()
    if (next !== undefined) this.runBroadcast(next)
  }

  private onTunnel(conn: Connection, id: number): void {
    if (this.handler.handleTunnel === undefined) {
      conn.sendFrame({ type: FrameType.tunnelClose, tunnel: id, code: ErrorCode.invalid, reason: `member of "${this.cluster}" does not accept tunnels` })
      return
    }
    this.stats.tunnels++
    const tunnel = conn.acceptTunnel(id, this.ring === undefined ? undefined
      : { ring: this.ring, name: this.cluster, sendKind: SealKind.toClient, recvKind: SealKind.toMember })
    Promise.resolve()
      .then(() => this.handler.handleTunnel!(tunnel))
      .catch(() => { void tunnel.close() })
  }

  /**
   * Leaves the cluster gracefully: the relay sends no new requests, those in flight are
   * answered (for up to `graceMs`, default 5 s), then the connection closes.
   */
  close(options: { graceMs?: number } = {}): Promise<void> {
    this.closing ??= (async () => {
      try {
        await this.conn.ack({ type: FrameType.unregister, seq: 0, cluster: this.cluster })
        if (this.running > 0) {
          await new Promise<void>((resolve) => {
            this.idle = resolve
            setTimeout(resolve, options.graceMs ?? 5000).unref()
          })
        }
      } catch {
        // The connection is already gone: nothing left to drain.
      }
      await this.conn.close()
    })()
    return this.closing
  }
}

function checkLimits(l: Partial<MemberLimits> | undefined): MemberLimits {
  const out = { ...DEFAULT_MEMBER_LIMITS, ...(l ?? {}) }
  for (const [k, v] of Object.entries(out)) {
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) throw new HeraldError('INVALID', `limits.${k} must be a positive integer, got ${String(v)}`)
  }
  return out
}

/** Connects to the local relay as a member of `cluster` and starts serving it. */
export async function register(options: RegisterOptions): Promise<Service> {
  const limits = checkLimits(options.limits)
  if (options.handler === null || typeof options.handler !== 'object') throw new HeraldError('INVALID', 'register() needs a handler object')
  const ring = options.key === undefined ? undefined : keyRing(options.key)
  const service = new Service({ cluster: options.cluster, options, limits, handler: options.handler, ...(ring !== undefined ? { ring } : {}) })
  const conn = service.conn
  await conn.handshake()
  try {
    await options.handler.init?.(conn)
    await conn.register(options.cluster, limits, options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {})
  } catch (err) {
    await conn.close()
    throw err
  }
  return service
}
