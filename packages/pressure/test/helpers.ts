/**
 * Real sockets for the proxy tests: an echo target, a recording target, a client that sends
 * chunks (honouring back-pressure) and collects what comes back, and deterministic payloads.
 * Everything started here is closed by closeAll() in teardown.
 */
import { createServer, connect, type Server, type Socket } from 'node:net'
import { createPressureProxy, type PressureProxy, type PressureProxyInit } from '../src/index.js'

const servers = new Set<Server>()
const sockets = new Set<Socket>()
const proxies = new Set<PressureProxy>()

export interface Target {
  port: number
  /** Sockets the target accepted, in order. */
  accepted: Socket[]
  /** What each accepted connection received, by index. */
  received: Buffer[][]
  close(): Promise<void>
}

/**
 * A target on a free port. `mode` 'echo' writes back what it reads (and ends when the client
 * ends); 'record' keeps what it reads; 'still' accepts and never reads.
 */
export async function startTarget(mode: 'echo' | 'record' | 'still' = 'echo'): Promise<Target> {
  const accepted: Socket[] = []
  const received: Buffer[][] = []
  const server = createServer({ allowHalfOpen: true }, (s) => {
    const mine: Buffer[] = []
    accepted.push(s)
    received.push(mine)
    sockets.add(s)
    s.on('error', () => {})
    if (mode === 'still') {
      s.pause()
      return
    }
    s.on('data', (c: Buffer) => {
      mine.push(c)
      if (mode === 'echo' && !s.write(c)) {
        s.pause()
        s.once('drain', () => s.resume())
      }
    })
    s.on('end', () => { if (mode === 'echo') s.end() })
  })
  servers.add(server)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const port = (server.address() as { port: number }).port
  return {
    port,
    accepted,
    received,
    close: () => new Promise<void>((r) => {
      for (const s of accepted) s.destroy()
      server.close(() => r())
    }),
  }
}

export async function startProxy(target: Target, init: Omit<PressureProxyInit, 'target'> = {}): Promise<PressureProxy> {
  const proxy = await createPressureProxy({ ...init, target: { host: '127.0.0.1', port: target.port } })
  proxies.add(proxy)
  return proxy
}

/** A target, a proxy to it and a client connected through both (the target has accepted). */
export async function throughProxy(
  mode: 'echo' | 'record' | 'still',
  init: Omit<PressureProxyInit, 'target'> = {},
): Promise<{ target: Target; proxy: PressureProxy; s: Socket }> {
  const target = await startTarget(mode)
  const proxy = await startProxy(target, init)
  const s = await dial(proxy.port)
  await until(() => target.accepted.length === 1, 'the target to accept the connection')
  return { target, proxy, s }
}

/** A client socket, not yet connected (for connections the proxy refuses). */
export function connectRaw(port: number): Socket {
  const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
  sockets.add(s)
  s.on('error', () => {})
  return s
}

export function dial(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', allowHalfOpen: true })
    sockets.add(s)
    s.once('connect', () => {
      s.off('error', reject)
      // Tests that expect an error listen for it; any other (a peer reset in teardown) is fine.
      s.on('error', () => {})
      resolve(s)
    })
    s.once('error', reject)
  })
}

/** Bytes 0..n-1 of a fixed pseudo-random stream (seeded, so a failure replays). */
export function payload(n: number, seed = 1): Buffer {
  const b = Buffer.allocUnsafe(n)
  let x = seed >>> 0 || 1
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    b[i] = x & 0xff
  }
  return b
}

/** How a socket's life ends: the error code (ECONNRESET...) or "close". */
export function outcome(s: Socket): Promise<string> {
  return new Promise((resolve) => {
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    s.once('close', () => resolve('close'))
  })
}

/** Everything `s` receives until its peer's FIN (rejects on error or reset). */
export function readAll(s: Socket): Promise<Buffer> {
  const chunks: Buffer[] = []
  s.on('data', (c: Buffer) => chunks.push(c))
  return new Promise((resolve, reject) => {
    s.once('end', () => resolve(Buffer.concat(chunks)))
    s.once('error', reject)
  })
}

/** Writes the chunks in order, waiting for 'drain' when the socket says so, then ends. */
export async function writeAll(s: Socket, chunks: Uint8Array[], end = true): Promise<void> {
  for (const c of chunks) {
    if (!s.write(c)) await new Promise<void>((r) => s.once('drain', () => r()))
  }
  if (end) s.end()
}

/** Splits `data` at the given sizes (cycling through them). */
export function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const out: Buffer[] = []
  for (let off = 0, i = 0; off < data.length; i++) {
    const n = Math.max(1, sizes[i % sizes.length]!)
    out.push(data.subarray(off, off + n))
    off += n
  }
  return out
}

/** Resolves once `pred` holds, checking after each turn of I/O (it never sleeps a fixed time). */
export async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export async function closeAll(): Promise<void> {
  for (const s of sockets) s.destroy()
  sockets.clear()
  await Promise.all([...proxies].map((p) => p.close()))
  proxies.clear()
  await Promise.all([...servers].map((s) => new Promise<void>((r) => s.close(() => r()))))
  servers.clear()
}
