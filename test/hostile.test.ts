/**
 * Hostile clients on a real relay's client port (raw node:net sockets, frames from
 * @herald/wire): garbage, huge length prefixes, stalled half frames, handshake violations,
 * connection storms. Each must get an ERROR frame (where one is due) and a closed connection,
 * while an ordinary SDK client and member on the same relay keep working.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { randomBytes } from 'node:crypto'
import { connect as netConnect, type Socket } from 'node:net'
import { connect, register, type Connection, type Service } from '@herald/client'
import {
  ErrorCode, FrameDecoder, FrameType, PROTOCOL_VERSION, Role, encodeFrame, nextFrame, type Frame,
} from '@herald/wire'
import { killAll, rssOf, runCli, startRelay, until, type RelayProc } from './harness.js'

const STALL_MS = 500

let relay: RelayProc
let svc: Service
let conn: Connection
let checks = 0
/** ERROR frames the relay sent to our raw sockets (each one is a protocol error it counted). */
let errorsSeen = 0

beforeAll(async () => {
  relay = await startRelay(['--stall-timeout', String(STALL_MS)])
  svc = await register({ port: relay.port, cluster: 'echo', handler: { handleRequest: (r) => r } })
  conn = await connect({ port: relay.port })
})

afterAll(async () => {
  await conn?.close().catch(() => {})
  await svc?.close().catch(() => {})
  await killAll()
})

const hello = (version = PROTOCOL_VERSION, role: number = Role.client): Uint8Array =>
  encodeFrame({ type: FrameType.hello, version, role } as Frame)

interface Raw {
  socket: Socket
  /** Frames received so far. */
  frames: Frame[]
  /** Resolves on 'close' with every frame received (and whether the socket saw an error). */
  closed: Promise<{ frames: Frame[]; socketError: string | undefined; decodeError: string | undefined }>
  write(bytes: Uint8Array): void
}

/** A raw TCP connection to the relay that decodes what the relay sends until 'close'. */
function raw(timeoutMs = 10_000): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port: relay.port })
    const decoder = new FrameDecoder()
    const frames: Frame[] = []
    let socketError: string | undefined
    let decodeError: string | undefined
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
      try {
        for (let f = nextFrame(decoder); f !== null; f = nextFrame(decoder)) frames.push(f)
      } catch (err) {
        decodeError = (err as Error).message
      }
    })
    socket.on('error', (err: NodeJS.ErrnoException) => { socketError = err.code ?? err.message })
    const closed = new Promise<{ frames: Frame[]; socketError: string | undefined; decodeError: string | undefined }>((res, rej) => {
      const timer = setTimeout(() => {
        socket.destroy()
        rej(new Error(`the relay did not close the connection within ${timeoutMs} ms; frames: ${JSON.stringify(frames)}`))
      }, timeoutMs)
      socket.on('close', () => { clearTimeout(timer); res({ frames, socketError, decodeError }) })
    })
    socket.once('connect', () => resolve({
      socket, frames, closed,
      write: (b) => { if (!socket.destroyed) socket.write(b) },
    }))
    socket.once('error', reject)
  })
}

/** The one ERROR frame among `frames` (asserting there is exactly one, and that it is last). */
function theError(frames: Frame[]): { code: number; message: string } {
  const errors = frames.filter((f) => f.type === FrameType.error)
  expect(errors, JSON.stringify(frames)).toHaveLength(1)
  expect(frames[frames.length - 1]!.type).toBe(FrameType.error)
  errorsSeen++
  return errors[0] as { code: number; message: string }
}

/** The ordinary SDK client and member still work: a round trip through the relay. */
async function stillServes(): Promise<void> {
  const payload = `round trip ${++checks}`
  const reply = await conn.request('echo', payload, { timeoutMs: 5000 })
  expect(Buffer.from(reply).toString()).toBe(payload)
  // And a brand-new connection is accepted and served too.
  const fresh = await connect({ port: relay.port })
  expect(Buffer.from(await fresh.request('echo', 'fresh', { timeoutMs: 5000 })).toString()).toBe('fresh')
  await fresh.close()
}

describe('hostile clients against one relay (--stall-timeout 500)', () => {
  let idle: Raw
  it('baseline: the SDK member answers', async () => {
    // A connection that never sends a byte; checked near the end (handshake timeout, 5 s).
    idle = await raw(20_000)
    await stillServes()
  })

  it('(a) 1 MiB of random bytes -> an ERROR frame, then the connection is closed', async () => {
    const c = await raw()
    c.write(randomBytes(1024 * 1024))
    const { frames, decodeError } = await c.closed
    expect(decodeError).toBeUndefined()
    const err = theError(frames)
    // Random bytes fail as a bad length (tooLarge), a malformed/unknown first frame (protocol),
    // or, in the rare case the length fits, a frame that never completes (timeout).
    expect([ErrorCode.tooLarge, ErrorCode.protocol, ErrorCode.timeout]).toContain(err.code)
    expect(err.message.length).toBeGreaterThan(0)
    expect(relay.child.exitCode).toBeNull()
    await stillServes()
  })

  it('(a1) random bytes behind a plausible length prefix -> ERROR protocol, then close', async () => {
    const c = await raw()
    const garbage = randomBytes(64 * 1024)
    for (let off = 0; off + 104 <= garbage.length; off += 104) garbage.writeUInt32BE(100, off) // 100-byte "frames"
    c.write(garbage)
    const { frames } = await c.closed
    expect(frames).toHaveLength(1)
    expect(theError(frames).code).toBe(ErrorCode.protocol)
    await stillServes()
  })

  it('(a2) random bytes after a valid HELLO -> WELCOME, an ERROR frame, then close', async () => {
    const c = await raw()
    c.write(hello())
    c.write(randomBytes(1024 * 1024))
    const { frames } = await c.closed
    expect(frames[0]!.type).toBe(FrameType.welcome)
    const err = theError(frames)
    expect([ErrorCode.tooLarge, ErrorCode.protocol, ErrorCode.timeout]).toContain(err.code)
    await stillServes()
  })

  it('(b) HELLO then a length prefix of 0xFFFFFFF0 -> ERROR tooLarge and close, with no allocation', async () => {
    const rssBefore = rssOf(relay.pid)
    const c = await raw()
    c.write(hello())
    const header = new Uint8Array([0xff, 0xff, 0xff, 0xf0, FrameType.request])
    c.write(header)
    const { frames } = await c.closed
    expect(frames[0]!.type).toBe(FrameType.welcome)
    expect(theError(frames).code).toBe(ErrorCode.tooLarge)
    // Allocating what the prefix claims would be 4 GiB; the relay's memory stays where it was.
    expect(rssOf(relay.pid)).toBeLessThan(rssBefore + 64 * 1024 * 1024)
    await stillServes()
  })

  it('(b2) a length prefix just over the message limit (no HELLO) -> ERROR tooLarge', async () => {
    const c = await raw()
    const header = Buffer.alloc(5)
    header.writeUInt32BE(16 * 1024 * 1024 + 1024 + 1, 0)
    header[4] = FrameType.hello
    c.write(header)
    const { frames } = await c.closed
    expect(theError(frames).code).toBe(ErrorCode.tooLarge)
    await stillServes()
  })

  it('(b3) a zero length prefix -> ERROR protocol, then close', async () => {
    const c = await raw()
    c.write(new Uint8Array([0, 0, 0, 0, FrameType.hello]))
    const { frames } = await c.closed
    expect(theError(frames).code).toBe(ErrorCode.protocol)
    await stillServes()
  })

  it('(c) HELLO, then 3 bytes of a header, then nothing -> ERROR timeout within a few seconds, then close', async () => {
    const c = await raw(5_000) // the stall timeout is 500 ms: a bound of 10x that, not a speed check
    c.write(hello())
    await until(() => c.frames.length > 0, 5_000, 'WELCOME')
    expect(c.frames[0]!.type).toBe(FrameType.welcome)
    c.write(new Uint8Array([0, 0, 0]))
    const { frames } = await c.closed
    const err = theError(frames)
    expect(err.code).toBe(ErrorCode.timeout)
    expect(err.message).toMatch(/stall/)
    await stillServes()
  })

  it('(c2) a complete header with a body that never finishes -> ERROR timeout, then close', async () => {
    const c = await raw(5_000)
    c.write(hello())
    const req = encodeFrame({ type: FrameType.request, id: 1, timeoutMs: 1000, cluster: 'echo', payload: new Uint8Array(100) })
    c.write(req.subarray(0, req.length - 10))
    const { frames } = await c.closed
    expect(frames[0]!.type).toBe(FrameType.welcome)
    expect(theError(frames).code).toBe(ErrorCode.timeout)
    await stillServes()
  })

  it('(d) a first frame that is not HELLO -> ERROR protocol, then close', async () => {
    const c = await raw()
    c.write(encodeFrame({ type: FrameType.request, id: 1, timeoutMs: 1000, cluster: 'echo', payload: new Uint8Array([1, 2, 3]) }))
    const { frames } = await c.closed
    const err = theError(frames)
    expect(err.code).toBe(ErrorCode.protocol)
    expect(err.message).toMatch(/HELLO/)
    // The request was not delivered: nothing but the ERROR came back.
    expect(frames).toHaveLength(1)
    await stillServes()
  })

  it('(d2) a HELLO with a wrong protocol version -> ERROR version, then close', async () => {
    const c = await raw()
    c.write(hello(PROTOCOL_VERSION + 1))
    const { frames } = await c.closed
    expect(frames).toHaveLength(1)
    expect(theError(frames).code).toBe(ErrorCode.version)
    await stillServes()
  })

  it('(d3) a HELLO with a bad magic or an unknown role -> ERROR protocol, then close', async () => {
    const badMagic = hello()
    badMagic[5] = 0x58 // "XRLD"
    const unknownRole = hello(PROTOCOL_VERSION, 7)
    for (const bytes of [badMagic, unknownRole]) {
      const c = await raw()
      c.write(bytes)
      const { frames } = await c.closed
      expect(frames).toHaveLength(1)
      expect(theError(frames).code).toBe(ErrorCode.protocol)
    }
    await stillServes()
  })

  it('(d4) a frame clients never send (WELCOME) after the handshake -> ERROR protocol, then close', async () => {
    const c = await raw()
    c.write(hello())
    c.write(encodeFrame({ type: FrameType.welcome, version: 1, maxMessageBytes: 1, nodeId: 'x' }))
    const { frames } = await c.closed
    expect(frames[0]!.type).toBe(FrameType.welcome)
    expect(theError(frames).code).toBe(ErrorCode.protocol)
    await stillServes()
  })

  it('(e) every attack at once, while the SDK client keeps making requests', async () => {
    let stop = false
    let rounds = 0
    const traffic = (async () => {
      while (!stop) {
        const p = `concurrent ${rounds++}`
        expect(Buffer.from(await conn.request('echo', p, { timeoutMs: 5000 })).toString()).toBe(p)
      }
    })()
    const attacks = await Promise.all([raw(), raw(), raw(), raw()])
    const [garbage, huge, stalled, noHello] = attacks as [Raw, Raw, Raw, Raw]
    garbage.write(randomBytes(1024 * 1024))
    huge.write(hello())
    huge.write(new Uint8Array([0xff, 0xff, 0xff, 0xf0]))
    stalled.write(hello())
    stalled.write(new Uint8Array([0, 0, 0]))
    noHello.write(encodeFrame({ type: FrameType.ping, token: 1 }))
    const results = await Promise.all(attacks.map((a) => a.closed))
    for (const r of results) theError(r.frames)
    stop = true
    await traffic
    expect(rounds).toBeGreaterThan(0)
    await stillServes()
  })

  it('(f) 200 connections opened and dropped abruptly (some mid-frame) -> the relay still serves', async () => {
    const statusOf = async (): Promise<{ clients: number }> =>
      JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString()) as { clients: number }
    const baseline = (await statusOf()).clients
    const req = encodeFrame({ type: FrameType.request, id: 9, timeoutMs: 1000, cluster: 'echo', payload: new Uint8Array(4096) })
    const drops = Array.from({ length: 200 }, (_, i) => new Promise<void>((resolve) => {
      const s = netConnect({ host: '127.0.0.1', port: relay.port })
      s.on('error', () => {})
      s.on('close', () => resolve())
      s.once('connect', () => {
        switch (i % 5) {
          case 0: s.destroy(); break // connect, then gone
          case 1: s.write(hello().subarray(0, 6)); s.resetAndDestroy(); break // half a HELLO, then RST
          case 2: s.write(hello()); s.write(req.subarray(0, 2000)); s.destroy(); break // mid-request
          case 3: s.write(hello()); s.write(req); s.resetAndDestroy(); break // a whole request, then RST
          default: s.write(hello(PROTOCOL_VERSION, Role.member)); s.write(req.subarray(0, 3)); s.resetAndDestroy() // mid-header
        }
      })
    }))
    await Promise.all(drops)
    await stillServes()
    // Every one of those sessions is cleaned up: the client count returns to what it was.
    await until(async () => (await statusOf()).clients <= baseline, 10_000, `clients back to ${baseline}`)
    expect(relay.child.exitCode).toBeNull()
  })

  it('(h) a member that turns hostile mid-request: its caller gets MEMBER_LOST, the others carry on', async () => {
    const m = await raw()
    m.write(hello(PROTOCOL_VERSION, Role.member))
    m.write(encodeFrame({
      type: FrameType.register, seq: 1, cluster: 'victim',
      requestConcurrency: 4, requestMemory: 1 << 20, broadcastConcurrency: 4, broadcastMemory: 1 << 20,
    }))
    await until(() => m.frames.some((f) => f.type === FrameType.ack), 5_000, 'the ACK of REGISTER')
    expect(m.frames.find((f) => f.type === FrameType.ack)).toMatchObject({ code: ErrorCode.ok })
    const pending = conn.request('victim', 'please', { timeoutMs: 10_000 })
    const outcome = pending.then(() => 'replied', (e: { code?: string }) => e.code ?? String(e))
    await until(() => m.frames.some((f) => f.type === FrameType.request), 5_000, 'the REQUEST at the member')
    m.write(randomBytes(4096))
    const { frames } = await m.closed
    theError(frames)
    expect(await outcome).toBe('MEMBER_LOST')
    await stillServes()
  })

  it('(i) replies forged by another member for ids it was never given do not reach the caller', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    const slow = await register({
      port: relay.port, cluster: 'slow',
      handler: { handleRequest: async (req) => { await gate; return Buffer.concat([Buffer.from('genuine:'), req]) } },
    })
    const forger = await raw()
    forger.write(hello(PROTOCOL_VERSION, Role.member))
    const pending = conn.request('slow', 'x', { timeoutMs: 10_000 })
    // Forge REPLY and FAILURE frames for every id in a wide range while the real one is pending.
    const forged: Frame[] = []
    for (let id = 0; id < 2000; id++) {
      forged.push({ type: FrameType.reply, id, payload: Buffer.from('forged') })
      forged.push({ type: FrameType.failure, id, code: ErrorCode.remote, message: 'forged' })
    }
    for (const f of forged) forger.write(encodeFrame(f))
    // The relay handled everything the forger sent (a ping answered after it proves it).
    forger.write(encodeFrame({ type: FrameType.ping, token: 77 }))
    await until(() => forger.frames.some((f) => f.type === FrameType.pong), 5_000, 'PONG after the forged frames')
    release()
    expect(Buffer.from(await pending).toString()).toBe('genuine:x')
    forger.socket.destroy()
    await slow.close()
    await stillServes()
  })

  it('(c3) a connection that never sends HELLO -> ERROR timeout after the handshake timeout, then close', async () => {
    const { frames } = await idle.closed
    expect(frames).toHaveLength(1)
    const err = theError(frames)
    expect(err.code).toBe(ErrorCode.timeout)
    expect(err.message).toMatch(/handshake/)
    await stillServes()
  })

  it('(g) herald status --json counts the protocol errors', async () => {
    const r = await runCli(['status', '--json', '--port', String(relay.port)])
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout) as { protocolErrors: number; acceptedConnections: number; clusters: Array<{ name: string; members: number }> }
    expect(errorsSeen).toBeGreaterThanOrEqual(16)
    expect(s.protocolErrors).toBeGreaterThanOrEqual(errorsSeen)
    expect(s.acceptedConnections).toBeGreaterThanOrEqual(200 + errorsSeen)
    // The member that lived through all of it is still registered.
    expect(s.clusters).toContainEqual(expect.objectContaining({ name: 'echo', members: 1 }))
    const text = await runCli(['status', '--port', String(relay.port)])
    expect(text.stdout).toMatch(new RegExp(`${s.protocolErrors} closed for errors`))
  })
})
