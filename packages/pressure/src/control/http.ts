/**
 * A small HTTP control endpoint for a running proxy, so scripts and other processes can steer
 * it (`curl -d 'partition' http://127.0.0.1:9000/`):
 *
 *   POST /             body: one command line (see COMMAND_HELP) -> text/plain, 400 on error
 *   GET  /stats        the counters as JSON
 *   GET  /connections  open connections as JSON
 *   GET  /settings     the settings in force as JSON
 *
 * Bodies over 64 KiB are refused (413); the endpoint binds loopback unless told otherwise.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Address } from '../connection.js'
import type { PressureProxy } from '../proxy.js'
import { runControlCommand, type CommandResult } from './commands.js'
import { toJson } from './format.js'

const MAX_BODY = 64 * 1024

export interface ControlEndpoint {
  address: Address
  close(): Promise<void>
}

export interface ControlInit {
  proxy: PressureProxy
  listen: Address
  /** Called with every command run through the endpoint (to echo it, or to stop on quit). */
  onCommand?: (line: string, result: CommandResult) => void
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

const json = (res: ServerResponse, data: unknown): void => send(res, 200, 'application/json', toJson(data) + '\n')

/** The body, or undefined past MAX_BODY (the rest is read and dropped: memory stays bounded). */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
    })
    req.on('end', () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString('utf8')))
    req.on('error', () => resolve(undefined))
  })
}

async function handle(init: ControlInit, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method === 'GET' && path === '/stats') return json(res, init.proxy.stats())
  if (req.method === 'GET' && path === '/connections') return json(res, init.proxy.connections())
  if (req.method === 'GET' && path === '/settings') return json(res, init.proxy.resolvedSettings)
  if (req.method === 'POST' && (path === '/' || path === '/command')) {
    const body = await readBody(req)
    if (body === undefined) return send(res, 413, 'text/plain', `error: a command must be at most ${MAX_BODY} bytes\n`)
    const result = runControlCommand(init.proxy, body.split('\n')[0] ?? '')
    init.onCommand?.(body, result)
    return send(res, result.ok ? 200 : 400, 'text/plain', result.lines.map((l) => l + '\n').join(''))
  }
  send(res, 404, 'text/plain', 'error: POST a command to /, or GET /stats, /connections or /settings\n')
}

export async function startControlEndpoint(init: ControlInit): Promise<ControlEndpoint> {
  const server: Server = createServer((req, res) => {
    handle(init, req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, 'text/plain', `error: ${err instanceof Error ? err.message : String(err)}\n`)
    })
  })
  server.on('clientError', (_err, socket) => socket.destroy())
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(init.listen.port, init.listen.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const addr = server.address()
  return {
    address: { host: init.listen.host, port: typeof addr === 'object' && addr !== null ? addr.port : 0 },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
