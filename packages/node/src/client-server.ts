import { createServer, type Server, type Socket } from 'node:net'
import { chmodSync, existsSync, unlinkSync } from 'node:fs'
import { ErrorCode } from '@herald/wire'
import type { Router } from './router.js'
import { Session } from './session.js'
import { HANDSHAKE_TIMEOUT_MS, HOUSEKEEPING_INTERVAL_MS, MAX_PARTIAL_FRAME_BYTES } from './constants.js'

export interface ClientServerInit {
  router: Router
  nodeId: string
  host: string
  port: number
  socketPath?: string
  maxMessageBytes: number
  maxFrameBytes: number
  stallTimeoutMs: number
  log: (msg: string) => void
}

/** Accepts local clients (loopback TCP and/or a Unix socket) and owns their sessions. */
export class ClientServer {
  private readonly init: ClientServerInit
  private readonly servers: Server[] = []
  readonly sessions = new Set<Session>()
  private nextId = 1
  private timer: ReturnType<typeof setInterval> | undefined
  port = 0
  accepted = 0
  protocolErrors = 0

  constructor(init: ClientServerInit) {
    this.init = init
  }

  async start(): Promise<void> {
    const tcp = createServer((s) => this.accept(s))
    await listen(tcp, () => tcp.listen({ host: this.init.host, port: this.init.port }))
    const addr = tcp.address()
    this.port = typeof addr === 'object' && addr !== null ? addr.port : this.init.port
    this.servers.push(tcp)
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
    this.timer = setInterval(() => this.housekeeping(), HOUSEKEEPING_INTERVAL_MS)
    this.timer.unref()
  }

  private accept(socket: Socket): void {
    this.accepted++
    const session = new Session({
      id: this.nextId++,
      socket,
      router: this.init.router,
      nodeId: this.init.nodeId,
      maxMessageBytes: this.init.maxMessageBytes,
      maxFrameBytes: this.init.maxFrameBytes,
      onClose: (s) => this.sessions.delete(s),
      log: (m) => { this.protocolErrors++; this.init.log(m) },
    })
    this.sessions.add(session)
  }

  private housekeeping(): void {
    const now = Date.now()
    let partial = 0
    for (const s of this.sessions) {
      s.check(now, this.init.stallTimeoutMs, HANDSHAKE_TIMEOUT_MS)
      partial += s.partialBytes
    }
    // Many clients each holding a large half frame add up: past the budget, cut the largest.
    while (partial > MAX_PARTIAL_FRAME_BYTES) {
      let worst: Session | undefined
      for (const s of this.sessions) if (!s.closed && (worst === undefined || s.partialBytes > worst.partialBytes)) worst = s
      if (worst === undefined || worst.partialBytes === 0) break
      partial -= worst.partialBytes
      worst.fail(ErrorCode.limit, 'the relay is holding too many partial frames; this connection had the largest')
    }
  }

  /** Stops accepting; tells every client goodbye and closes its connection. */
  async stop(reason: string): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer)
    const closing = this.servers.map((s) => new Promise<void>((r) => s.close(() => r())))
    for (const s of [...this.sessions]) s.goodbye(ErrorCode.shutdown, reason)
    await Promise.race([Promise.all(closing), new Promise((r) => setTimeout(r, 1500))])
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
