import { createServer, type Server } from 'node:net'
import { chmodSync, existsSync, unlinkSync } from 'node:fs'
import { ErrorCode } from '@herald/wire'
import type { Clock, Timer } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import type { Logger } from '../log.js'
import type { Router } from '../routing/router.js'
import { Session } from './session.js'
import type { ClientSocket } from './socket.js'

export interface ClientServerInit {
  router: Router
  nodeId: string
  /** Loopback TCP; undefined: no TCP listener (in-process clients and the Unix socket only). */
  tcp: { host: string; port: number } | undefined
  socketPath?: string
  maxMessageBytes: number
  maxFrameBytes: number
  clock: Clock
  limits: RelayLimits
  log: Logger
}

/** Accepts local clients (loopback TCP, a Unix socket, in-process connections) and owns their sessions. */
export class ClientServer {
  private readonly init: ClientServerInit
  private readonly servers: Server[] = []
  readonly sessions = new Set<Session>()
  private nextId = 1
  private timer: Timer | undefined
  port = 0
  accepted = 0
  protocolErrors = 0

  constructor(init: ClientServerInit) {
    this.init = init
  }

  async start(): Promise<void> {
    const tcpInit = this.init.tcp
    if (tcpInit !== undefined) {
      const tcp = createServer((s) => this.accept(s))
      await listen(tcp, () => tcp.listen({ host: tcpInit.host, port: tcpInit.port }))
      const addr = tcp.address()
      this.port = typeof addr === 'object' && addr !== null ? addr.port : tcpInit.port
      this.servers.push(tcp)
    }
    if (this.init.socketPath !== undefined) {
      const path = this.init.socketPath
      if (existsSync(path)) unlinkSync(path)
      const unix = createServer((s) => this.accept(s))
      // Create the socket with mode 0600 from the start: no window with looser permissions.
      const umask = process.umask(0o177)
      try {
        await listen(unix, () => unix.listen({ path }))
      } finally {
        process.umask(umask)
      }
      chmodSync(path, 0o600)
      this.servers.push(unix)
    }
    this.timer = this.init.clock.setInterval(() => this.housekeeping(), this.init.limits.housekeepingIntervalMs)
    this.timer.unref?.()
  }

  /** Serves one client connection (node:net sockets, or an in-process MemorySocket). */
  accept(socket: ClientSocket & { setNoDelay?(noDelay: boolean): unknown }): void {
    this.accepted++
    socket.setNoDelay?.(true)
    const session = new Session({
      id: this.nextId++,
      socket,
      router: this.init.router,
      nodeId: this.init.nodeId,
      maxMessageBytes: this.init.maxMessageBytes,
      maxFrameBytes: this.init.maxFrameBytes,
      clock: this.init.clock,
      limits: this.init.limits,
      onClose: (s) => this.sessions.delete(s),
      log: this.init.log,
      onCut: () => { this.protocolErrors++ },
    })
    this.sessions.add(session)
  }

  private housekeeping(): void {
    const { clock, limits } = this.init
    const now = clock.now()
    let partial = 0
    for (const s of this.sessions) {
      s.check(now, limits.stallTimeoutMs, limits.handshakeTimeoutMs)
      partial += s.partialBytes
    }
    // Many clients each holding a large half frame add up: past the budget, cut the largest.
    while (partial > limits.maxPartialFrameBytes) {
      let worst: Session | undefined
      for (const s of this.sessions) if (!s.closed && (worst === undefined || s.partialBytes > worst.partialBytes)) worst = s
      if (worst === undefined || worst.partialBytes === 0) break
      partial -= worst.partialBytes
      worst.fail(ErrorCode.limit, 'the relay is holding too many partial frames; this connection had the largest')
    }
  }

  /** Stops accepting; tells every client goodbye and closes its connection. */
  async stop(reason: string): Promise<void> {
    this.init.clock.clearInterval(this.timer)
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())))
    for (const s of [...this.sessions]) s.goodbye(ErrorCode.shutdown, reason)
    let timer: Timer | undefined
    await Promise.race([Promise.all(closing), new Promise<void>((r) => { timer = this.init.clock.setTimeout(r, this.init.limits.listenerCloseWaitMs) })])
    this.init.clock.clearTimeout(timer)
  }
}

function listen(server: Server, start: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.once('listening', () => {
      server.off('error', reject)
      resolve()
    })
    start()
  })
}
