/**
 * One proxied connection: the accepted client socket, the socket to the target, and a Pipe
 * each way. It owns the lifecycle: the client is not read until the target answers (so early
 * bytes wait in the client's kernel buffers, not in ours); a FIN passes on in order after
 * the bytes before it (both sockets allow half-open); an error or a reset on either side
 * resets the other, so no socket outlives its peer silently.
 */
import { Socket, connect } from 'node:net'
import { LinkModel } from './link-model.js'
import { Pipe, emptyPipeStats, type PipeState, type PipeStats } from './pipe.js'
import type { Random } from './random.js'
import type { Direction, ResolvedSettings } from './settings.js'

export interface Address {
  host: string
  port: number
}

export type ConnectionState = 'waiting' | 'connecting' | 'open' | 'closed'

export interface ConnectionInfo {
  id: number
  /** The client's address as the proxy saw it ("host:port"). */
  client: string
  /** What the proxy's classify() called this connection, if anything. */
  label?: string
  target: string
  state: ConnectionState
  /** How the connection ended, once closed: "closed", "reset", or the error. */
  closeReason: string | undefined
  openedAt: number
  up: PipeStats & { state: PipeState }
  down: PipeStats & { state: PipeState }
}

export interface ConnectionInit {
  id: number
  client: Socket
  settings: ResolvedSettings
  random: Random
  clock: () => number
  /** Read when the connection dials: a connection that waited (a partition) goes to the target of that time. */
  target: () => Address
  connectTimeoutMs: number
  label?: string
  onClose: (conn: ProxyConnection) => void
}

/** What was asked of a connection before its pipes exist; applied when they are made. */
interface Pending {
  partitioned: Record<Direction, boolean>
  stallUntil: Record<Direction, number>
  halfOpen: boolean
}

export class ProxyConnection {
  readonly id: number
  readonly openedAt: number
  readonly label: string | undefined
  private readonly client: Socket
  private readonly resolveTarget: () => Address
  private target: Address
  private readonly clock: () => number
  private readonly connectTimeoutMs: number
  private readonly onClose: (conn: ProxyConnection) => void
  private readonly models: Record<Direction, LinkModel>
  private readonly clientName: string
  private upstream: Socket | undefined
  private pipes: Record<Direction, Pipe> | undefined
  private connectTimer: NodeJS.Timeout | undefined
  private readonly pending: Pending = { partitioned: { up: false, down: false }, stallUntil: { up: -Infinity, down: -Infinity }, halfOpen: false }
  private finished = { up: false, down: false }
  state: ConnectionState = 'waiting'
  closeReason: string | undefined

  constructor(init: ConnectionInit) {
    this.id = init.id
    this.label = init.label
    this.client = init.client
    this.resolveTarget = init.target
    this.target = init.target()
    this.clock = init.clock
    this.connectTimeoutMs = init.connectTimeoutMs
    this.onClose = init.onClose
    this.openedAt = Date.now()
    this.clientName = `${init.client.remoteAddress ?? '?'}:${init.client.remotePort ?? '?'}`
    this.models = { up: new LinkModel(init.settings.up, init.random), down: new LinkModel(init.settings.down, init.random) }
    this.client.setNoDelay(true)
    this.client.on('error', (err) => this.fail(err.message))
    this.client.on('close', (hadError) => this.socketClosed('client', hadError))
  }

  /** Dials the target (unless the connection is half-open: then nothing ever reaches it). */
  dial(): void {
    if (this.state !== 'waiting') return
    if (this.pending.halfOpen) {
      this.makePipes(undefined)
      return
    }
    this.state = 'connecting'
    this.target = this.resolveTarget()
    const upstream = connect({ host: this.target.host, port: this.target.port, allowHalfOpen: true })
    this.upstream = upstream
    upstream.setNoDelay(true)
    upstream.on('error', (err) => this.fail(`target: ${err.message}`))
    upstream.on('close', (hadError) => this.socketClosed('target', hadError))
    this.connectTimer = setTimeout(() => this.fail(`target did not answer within ${this.connectTimeoutMs} ms`), this.connectTimeoutMs)
    upstream.once('connect', () => {
      clearTimeout(this.connectTimer)
      if (this.state !== 'connecting') return
      this.makePipes(upstream)
    })
  }

  private makePipes(upstream: Socket | undefined): void {
    this.state = 'open'
    // A half-open connection never dials: its pipes get an inert socket that never emits
    // data and is never written to (a discarding pipe writes nothing).
    const target = upstream ?? new Socket().on('error', () => {})
    const pipe = (dir: Direction, source: Socket, sink: Socket): Pipe =>
      new Pipe({ source, sink, model: this.models[dir], clock: this.clock, onFinished: () => this.pipeFinished(dir) })
    this.pipes = { up: pipe('up', this.client, target), down: pipe('down', target, this.client) }
    const now = this.clock()
    for (const dir of ['up', 'down'] as const) {
      const p = this.pipes[dir]
      if (this.pending.halfOpen) p.halfOpen()
      if (this.pending.partitioned[dir]) p.partition()
      if (this.pending.stallUntil[dir] > now) p.stall(this.pending.stallUntil[dir] - now)
    }
    this.client.resume()
  }

  configure(settings: ResolvedSettings): void {
    for (const dir of ['up', 'down'] as const) {
      this.models[dir].configure(settings[dir])
      this.pipes?.[dir].reconfigured()
    }
  }

  partition(dirs: readonly Direction[]): void {
    for (const dir of dirs) {
      this.pending.partitioned[dir] = true
      this.pipes?.[dir].partition()
    }
  }

  heal(): void {
    for (const dir of ['up', 'down'] as const) {
      this.pending.partitioned[dir] = false
      this.pending.stallUntil[dir] = -Infinity
      this.pipes?.[dir].heal()
    }
  }

  stall(ms: number, dirs: readonly Direction[]): void {
    for (const dir of dirs) {
      this.pending.stallUntil[dir] = Math.max(this.pending.stallUntil[dir], this.clock() + ms)
      this.pipes?.[dir].stall(ms)
    }
  }

  halfOpen(): void {
    this.pending.halfOpen = true
    this.pipes?.up.halfOpen()
    this.pipes?.down.halfOpen()
  }

  /** Both sides get a TCP RST (ECONNRESET), held bytes are dropped. */
  reset(reason = 'reset'): void {
    if (this.state === 'closed') return
    this.client.resetAndDestroy()
    this.upstream?.resetAndDestroy()
    this.close(reason)
  }

  /** Ends both sides without a reset (for the proxy's own shutdown). */
  destroy(): void {
    if (this.state === 'closed') return
    this.client.destroy()
    this.upstream?.destroy()
    this.close('proxy closed')
  }

  info(): ConnectionInfo {
    const side = (dir: Direction): PipeStats & { state: PipeState } =>
      this.pipes === undefined ? { ...emptyPipeStats(), state: this.state === 'closed' ? 'ended' : 'paused' } : { ...this.pipes[dir].stats, state: this.pipes[dir].state }
    return {
      id: this.id,
      client: this.clientName,
      ...(this.label !== undefined ? { label: this.label } : {}),
      target: `${this.target.host}:${this.target.port}`,
      state: this.state,
      closeReason: this.closeReason,
      openedAt: this.openedAt,
      up: side('up'),
      down: side('down'),
    }
  }

  private pipeFinished(dir: Direction): void {
    this.finished[dir] = true
  }

  /**
   * A socket closed. It closed cleanly when we had read its FIN and passed ours to it: then
   * the other direction may still be delivering, and the connection ends when both sockets
   * are closed. Otherwise it died under us and the other side is reset. On a half-open
   * connection the survivor is never told, as with a peer that vanished.
   */
  private socketClosed(side: 'client' | 'target', hadError: boolean): void {
    if (this.state === 'closed') return
    const [reads, writes] = side === 'client' ? (['up', 'down'] as const) : (['down', 'up'] as const)
    const clean = !hadError && this.pipes !== undefined && this.pipes[reads].sourceEnded && this.finished[writes]
    if (clean || this.pending.halfOpen) {
      if (this.client.closed && (this.upstream === undefined || this.upstream.closed)) this.close('closed')
      return
    }
    this.fail(`${side} closed`)
  }

  private fail(reason: string): void {
    if (this.state === 'closed') return
    clearTimeout(this.connectTimer)
    if (!this.client.destroyed) this.client.resetAndDestroy()
    if (this.upstream !== undefined && !this.upstream.destroyed) this.upstream.resetAndDestroy()
    this.close(reason)
  }

  private close(reason: string): void {
    this.state = 'closed'
    this.closeReason = reason
    clearTimeout(this.connectTimer)
    this.pipes?.up.dispose()
    this.pipes?.down.dispose()
    this.onClose(this)
  }
}
