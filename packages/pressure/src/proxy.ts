/**
 * The pressure proxy: listens (port 0 by default: read the port back), forwards every
 * accepted connection to the target through a pressured link, and takes live orders —
 * new settings or a profile, partitions, stalls, half-open, resets, a new target.
 *
 * Orders take a scope: 'all' (the default: open connections and those to come), 'existing',
 * 'new', one connection's id, or `{ label }`: the open and future connections that `classify`
 * gave that label (say, the process that opened them). What applies to new connections is
 * proxy state, cleared by heal(): a new connection during a partition is accepted (the kernel
 * answers the handshake) but the target is not dialled and nothing passes until it heals.
 */
import { createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { DEFAULT_CONNECT_TIMEOUT_MS, DEFAULT_MAX_CONNECTIONS } from './constants.js'
import { ProxyConnection, type Address, type ConnectionInfo } from './connection.js'
import { emptyPipeStats, type PipeStats } from './pipe.js'
import { profile } from './profiles.js'
import type { Random } from './random.js'
import { combine, freshState, type ProxyState } from './proxy-state.js'
import {
  DIRECTIONS, applyConfig, resolveSettings, settingsOf,
  type Direction, type PressureConfig, type PressureSettings, type ResolvedSettings,
} from './settings.js'

export interface PressureProxyInit {
  target: Address
  /** Where to listen; default 127.0.0.1 and a free port. */
  listen?: { host?: string; port?: number }
  /** A named profile to start from (see PROFILES). */
  profile?: string
  /** Settings on top of the profile. */
  config?: PressureConfig
  /** Uniform [0, 1) source for delays, losses and slices; default Math.random. */
  random?: Random
  connectTimeoutMs?: number
  maxConnections?: number
  /**
   * Names each accepted connection from its client's address (called once, on accept), so
   * orders can target one client's connections, present and future: `{ scope: { label } }`.
   */
  classify?: (client: Address) => string | undefined
}

export type Scope = 'all' | 'existing' | 'new' | number | { label: string }

export interface ScopeOptions {
  scope?: Scope
}

export interface DirectionOptions extends ScopeOptions {
  /** Default 'both'. */
  direction?: Direction | 'both'
}


export interface ProxyStats {
  listen: Address
  target: Address
  connections: { open: number; accepted: number; refused: number; closed: number; reset: number; failed: number }
  /** Every connection's counters added up, those already closed included. */
  totals: Record<Direction, PipeStats>
  /** What applies to new connections; `labels`: to new connections of each label, on top. */
  state: ProxyState & { labels: Record<string, ProxyState> }
}

/** Closed connections kept for connections({ closed: true }); older ones are forgotten. */
const KEEP_CLOSED = 100

export function addPipeStats(a: PipeStats, b: PipeStats): PipeStats {
  return {
    bytesIn: a.bytesIn + b.bytesIn,
    bytesOut: a.bytesOut + b.bytesOut,
    segments: a.segments + b.segments,
    heldBack: a.heldBack + b.heldBack,
    retransmits: a.retransmits + b.retransmits,
    discardedBytes: a.discardedBytes + b.discardedBytes,
    heldBytes: a.heldBytes + b.heldBytes,
    peakHeldBytes: Math.max(a.peakHeldBytes, b.peakHeldBytes),
    pauses: a.pauses + b.pauses,
  }
}

const dirsOf = (d: Direction | 'both' | undefined): readonly Direction[] => (d === undefined || d === 'both' ? DIRECTIONS : [d])

const isLabel = (scope: Scope | undefined): scope is { label: string } => typeof scope === 'object' && scope !== null

export class PressureProxy {
  private readonly server: Server
  private readonly random: Random
  private readonly clock = (): number => performance.now()
  private readonly connectTimeoutMs: number
  private readonly maxConnections: number
  private readonly open = new Map<number, ProxyConnection>()
  private readonly closedInfo: ConnectionInfo[] = []
  private closedTotals: Record<Direction, PipeStats> = { up: emptyPipeStats(), down: emptyPipeStats() }
  private readonly counts = { accepted: 0, refused: 0, closed: 0, reset: 0, failed: 0 }
  private proxyState: ProxyState = freshState()
  private readonly labelState = new Map<string, ProxyState>()
  private readonly classify: ((client: Address) => string | undefined) | undefined
  private current: PressureSettings
  private resolved: ResolvedSettings
  private targetAddr: Address
  private nextId = 1
  private listening: Address = { host: '', port: 0 }

  private constructor(init: PressureProxyInit) {
    this.random = init.random ?? Math.random
    this.connectTimeoutMs = init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS
    this.maxConnections = init.maxConnections ?? DEFAULT_MAX_CONNECTIONS
    this.classify = init.classify
    this.targetAddr = { ...init.target }
    this.current = applyConfig(settingsOf(init.profile === undefined ? {} : profile(init.profile)), init.config ?? {})
    this.resolved = resolveSettings(this.current)
    this.server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => this.accept(socket))
    // Accept errors (EMFILE...) must not crash the process; the client simply is not served.
    this.server.on('error', () => {})
  }

  /** Starts a proxy and resolves once it listens. */
  static async start(init: PressureProxyInit): Promise<PressureProxy> {
    const proxy = new PressureProxy(init)
    const host = init.listen?.host ?? '127.0.0.1'
    await new Promise<void>((resolve, reject) => {
      proxy.server.once('error', reject)
      proxy.server.listen(init.listen?.port ?? 0, host, () => {
        proxy.server.off('error', reject)
        resolve()
      })
    })
    const addr = proxy.server.address()
    proxy.listening = { host, port: typeof addr === 'object' && addr !== null ? addr.port : 0 }
    return proxy
  }

  get address(): Address {
    return { ...this.listening }
  }

  get port(): number {
    return this.listening.port
  }

  get target(): Address {
    return { ...this.targetAddr }
  }

  get settings(): PressureSettings {
    return { up: { ...this.current.up }, down: { ...this.current.down } }
  }

  /** The settings with every derived value (rto, burst, buffer) filled in. */
  get resolvedSettings(): ResolvedSettings {
    return { up: { ...this.resolved.up }, down: { ...this.resolved.down } }
  }

  /**
   * Applies settings live, to every open connection (segments read from now on) and new ones.
   * With `reset`, starts from no pressure instead of the current settings.
   */
  configure(config: PressureConfig, opts: { reset?: boolean } = {}): void {
    const next = applyConfig(opts.reset === true ? settingsOf() : this.current, config)
    this.current = next
    this.resolved = resolveSettings(next)
    for (const c of this.open.values()) c.configure(this.resolved)
  }

  /** Replaces the settings with a named profile. */
  useProfile(name: string): void {
    this.configure(profile(name), { reset: true })
  }

  /** New connections, and those still waiting to dial (held by a partition), go to `target`; open ones keep theirs. */
  retarget(target: Address): void {
    this.targetAddr = { ...target }
  }

  partition(opts: DirectionOptions = {}): void {
    const dirs = dirsOf(opts.direction)
    for (const st of this.statesFor(opts.scope)) for (const d of dirs) st.partitioned[d] = true
    for (const c of this.targets(opts.scope)) c.partition(dirs)
  }

  /** Ends partitions and stalls (and, for new connections, half-open and refusing). */
  heal(opts: ScopeOptions = {}): void {
    if (isLabel(opts.scope)) this.labelState.delete(opts.scope.label)
    else if (this.statesFor(opts.scope).length > 0) {
      // Healing everything to come heals every label too.
      this.proxyState = freshState()
      this.labelState.clear()
    }
    for (const c of this.targets(opts.scope)) {
      c.heal()
      c.dial()
    }
  }

  /** Freezes delivery for `ms`; bytes keep being accepted (up to the bound) and flow after. */
  stall(ms: number, opts: DirectionOptions = {}): void {
    const dirs = dirsOf(opts.direction)
    for (const st of this.statesFor(opts.scope)) {
      for (const d of dirs) st.stalledUntil[d] = Math.max(st.stalledUntil[d], this.clock() + ms)
    }
    for (const c of this.targets(opts.scope)) c.stall(ms, dirs)
  }

  /** Connections that accept bytes and never deliver them (nor a FIN, nor a reset). */
  halfOpen(opts: ScopeOptions = {}): void {
    for (const st of this.statesFor(opts.scope)) st.halfOpen = true
    for (const c of this.targets(opts.scope)) c.halfOpen()
  }

  /**
   * Resets open connections (both peers see ECONNRESET); scope 'new' or 'all' also refuses new
   * connections (reset on accept) until heal(). The default scope here is 'existing'.
   * Returns how many were reset.
   */
  reset(opts: ScopeOptions = {}): number {
    const scope = opts.scope ?? 'existing'
    for (const st of this.statesFor(scope)) st.refusing = true
    const targets = this.targets(scope)
    for (const c of targets) c.reset()
    return targets.length
  }

  /** Open connections, and with `closed` the last 100 closed ones too. */
  connections(opts: { closed?: boolean } = {}): ConnectionInfo[] {
    const live = [...this.open.values()].map((c) => c.info())
    return opts.closed === true ? [...this.closedInfo, ...live] : live
  }

  connection(id: number): ConnectionInfo | undefined {
    return this.open.get(id)?.info() ?? this.closedInfo.find((c) => c.id === id)
  }

  stats(): ProxyStats {
    let totals = this.closedTotals
    for (const c of this.open.values()) {
      const info = c.info()
      totals = { up: addPipeStats(totals.up, info.up), down: addPipeStats(totals.down, info.down) }
    }
    return {
      listen: this.address,
      target: this.target,
      connections: { open: this.open.size, ...this.counts },
      totals,
      state: { ...structuredClone(this.proxyState), labels: Object.fromEntries([...this.labelState].map(([k, v]) => [k, structuredClone(v)])) },
    }
  }

  /** Stops listening and drops every connection. */
  async close(): Promise<void> {
    for (const c of [...this.open.values()]) c.destroy()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  /** The state(s) an order changes for connections to come: the proxy's, a label's, or none. */
  private statesFor(scope: Scope | undefined): ProxyState[] {
    if (isLabel(scope)) {
      let st = this.labelState.get(scope.label)
      if (st === undefined) this.labelState.set(scope.label, st = freshState())
      return [st]
    }
    return scope === undefined || scope === 'all' || scope === 'new' ? [this.proxyState] : []
  }

  private targets(scope: Scope | undefined): ProxyConnection[] {
    if (typeof scope === 'number') {
      const c = this.open.get(scope)
      return c === undefined ? [] : [c]
    }
    if (isLabel(scope)) return [...this.open.values()].filter((c) => c.label === scope.label)
    return scope === 'new' ? [] : [...this.open.values()]
  }

  private accept(socket: Socket): void {
    socket.on('error', () => {})
    const label = this.labelOf(socket)
    const s = combine(this.proxyState, label === undefined ? undefined : this.labelState.get(label))
    if (s.refusing || this.open.size >= this.maxConnections) {
      this.counts.refused++
      socket.resetAndDestroy()
      return
    }
    this.counts.accepted++
    const conn = new ProxyConnection({
      id: this.nextId++,
      client: socket,
      target: () => this.targetAddr,
      settings: this.resolved,
      random: this.random,
      clock: this.clock,
      connectTimeoutMs: this.connectTimeoutMs,
      ...(label !== undefined ? { label } : {}),
      onClose: (c) => this.closed(c),
    })
    this.open.set(conn.id, conn)
    const partitioned = DIRECTIONS.filter((d) => s.partitioned[d])
    conn.partition(partitioned)
    const now = this.clock()
    for (const d of DIRECTIONS) if (s.stalledUntil[d] > now) conn.stall(s.stalledUntil[d] - now, [d])
    if (s.halfOpen) conn.halfOpen()
    // A partition drops the handshake to the target: dial once it heals.
    if (partitioned.length === 0 || s.halfOpen) conn.dial()
  }

  private labelOf(socket: Socket): string | undefined {
    if (this.classify === undefined || socket.remoteAddress === undefined || socket.remotePort === undefined) return undefined
    try {
      return this.classify({ host: socket.remoteAddress, port: socket.remotePort })
    } catch {
      // A classifier that fails leaves the connection unlabelled; the proxy carries on.
      return undefined
    }
  }

  private closed(conn: ProxyConnection): void {
    this.open.delete(conn.id)
    const info = conn.info()
    this.closedTotals = { up: addPipeStats(this.closedTotals.up, info.up), down: addPipeStats(this.closedTotals.down, info.down) }
    if (info.closeReason === 'closed' || info.closeReason === 'proxy closed') this.counts.closed++
    else if (info.closeReason === 'reset') this.counts.reset++
    else this.counts.failed++
    this.closedInfo.push(info)
    if (this.closedInfo.length > KEEP_CLOSED) this.closedInfo.shift()
  }
}

/** Starts a pressure proxy (see PressureProxy.start). */
export function createPressureProxy(init: PressureProxyInit): Promise<PressureProxy> {
  return PressureProxy.start(init)
}
