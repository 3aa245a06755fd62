/**
 * The relay's HTTP side: Prometheus metrics and health (metrics/), the dashboard (dashboard/),
 * on one listener or two. Only GET, only the paths the routes name; everything else is 404 or
 * 405. A listener that cannot bind fails the relay's start with one clear sentence.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'

/** Handles one GET of its path. */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void

/** Exact paths to handlers. */
export type HttpRoutes = Record<string, HttpHandler>

/** An address that cannot be served (malformed, in use, not on this host, not permitted). */
export class HttpListenError extends Error {
  override readonly name = 'HttpListenError'
}

/**
 * "HOST:PORT" ("[::1]:9100" for IPv6), or a bare "PORT" for loopback (127.0.0.1); undefined
 * when malformed. Port 0 picks a free one.
 */
export function parseHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):)?(\d{1,5})$/.exec(s)
  if (m === null) return undefined
  const port = Number(m[3])
  if (port > 65535) return undefined
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port }
}

const WHY: Record<string, string> = {
  EADDRINUSE: 'the address is in use',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'no interface of this host has that address',
  ENOTFOUND: 'unknown host name',
  EAI_AGAIN: 'the host name could not be resolved',
}

export interface HttpListener {
  /** "http://host:port" as bound (the port read back when 0 was asked for). */
  readonly url: string
  readonly port: number
  close(): Promise<void>
}

/** Binds `address` ("HOST:PORT") and serves `routes`; `what` names it in errors ("--metrics"). */
export async function listenHttp(address: string, what: string, routes: HttpRoutes): Promise<HttpListener> {
  const hp = parseHostPort(address)
  if (hp === undefined) throw new HttpListenError(`${what} ${address}: expected HOST:PORT or PORT (e.g. 127.0.0.1:9464, [::1]:9464, 9464)`)
  const server = createServer((req, res) => serve(routes, req, res))
  // An idle keep-alive connection must not hold the relay's stop; SSE streams are ended on
  // close(). A scraper or a browser needs few connections: a flood of them is refused, and a
  // client that does not finish its request headers is cut.
  server.keepAliveTimeout = 5_000
  server.headersTimeout = 10_000
  server.requestTimeout = 15_000
  server.maxConnections = 128
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = WHY[err.code ?? ''] ?? err.message
      reject(new HttpListenError(`cannot serve ${what} on ${address}: ${why}`, { cause: err }))
    })
    server.listen({ host: hp.host, port: hp.port }, () => resolve())
  })
  server.on('error', () => {}) // after listening, errors belong to connections
  const addr = server.address()
  const port = typeof addr === 'object' && addr !== null ? addr.port : hp.port
  const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host
  return { url: `http://${host}:${port}`, port, close: () => closeServer(server) }
}

function serve(routes: HttpRoutes, req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '/').split('?')[0]!
  const handler = Object.hasOwn(routes, path) ? routes[path] : undefined
  if (handler === undefined) return plain(res, 404, 'not found\n')
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    return plain(res, 405, 'method not allowed\n')
  }
  try {
    handler(req, res)
  } catch (err) {
    if (!res.headersSent) plain(res, 500, `internal error: ${(err as Error).message}\n`)
    else res.destroy()
  }
}

/** A short text answer. */
export function plain(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' })
  res.end(body)
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}
