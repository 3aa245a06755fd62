/**
 * Raw sockets for the conformance runner: a plain TCP connection to a relay, and the scripted
 * fake relay (conformance/README.md, "The fake relay"). Both decode with @herald/wire.
 */
import { connect as netConnect, createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import { FrameDecoder, nextFrame, type Frame } from '@herald/wire'
import { describe, encode, matches, type FakeAction, type FrameSpec, type Vars } from './scenarios.js'

export const WAIT_MS = 10_000

/** Frames read from one socket, in order; the end of the stream (or a decode error) ends them. */
export class FrameStream {
  private readonly frames: Frame[] = []
  private ended = false
  error: string | undefined
  private wake: (() => void) | undefined

  constructor(readonly socket: Socket) {
    const decoder = new FrameDecoder()
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk)
      try {
        for (let f = nextFrame(decoder); f !== null; f = nextFrame(decoder)) this.frames.push(f)
      } catch (err) {
        this.error = (err as Error).message
        this.ended = true
      }
      this.notify()
    })
    socket.on('error', (err: NodeJS.ErrnoException) => { this.error = `socket error: ${err.code ?? err.message}` })
    socket.on('close', () => { this.ended = true; this.notify() })
  }

  private notify(): void {
    const w = this.wake
    this.wake = undefined
    w?.()
  }

  /** The next frame, or undefined at the end of the stream. */
  async next(what: string): Promise<Frame | undefined> {
    const deadline = Date.now() + WAIT_MS
    while (this.frames.length === 0 && !this.ended) {
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`${what}: nothing within ${WAIT_MS} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wake = () => { clearTimeout(timer); resolve() }
      })
    }
    return this.frames.shift()
  }

  async expect(pattern: Record<string, unknown> & { type: string }, vars: Vars, what: string): Promise<void> {
    const f = await this.next(what)
    if (f === undefined) throw new Error(`${what}: the stream ended before ${pattern.type} (${this.error ?? 'closed'})`)
    const diff = matches(pattern, f, vars)
    if (diff !== undefined) throw new Error(`${what}: ${diff}`)
  }

  async expectEnd(what: string): Promise<void> {
    const f = await this.next(what)
    if (f !== undefined) throw new Error(`${what}: expected the end of the stream, got ${describe(f)}`)
  }

  write(specs: FrameSpec[], vars: Vars): Promise<void> {
    const bytes = Buffer.concat(specs.map((s) => encode(s, vars)))
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()))
  }

  async writeBytewise(specs: FrameSpec[], vars: Vars): Promise<void> {
    const bytes = Buffer.concat(specs.map((s) => encode(s, vars)))
    for (const b of bytes) await new Promise<void>((resolve) => this.socket.write(Buffer.from([b]), () => resolve()))
  }

  close(): void {
    this.socket.destroy()
  }
}

export function openRaw(port: number): Promise<FrameStream> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, noDelay: true })
    socket.once('connect', () => resolve(new FrameStream(socket)))
    socket.once('error', reject)
  })
}

/** Accepts one client and runs the script against it; `done()` rejects with what went wrong. */
export class FakeRelay {
  port = 0
  private readonly server: Server
  private stream: FrameStream | undefined
  private readonly result: Promise<void>
  private settle!: (err?: unknown) => void

  constructor(private readonly script: FakeAction[], private readonly vars: Vars) {
    this.result = new Promise<void>((resolve, reject) => { this.settle = (err) => (err === undefined ? resolve() : reject(err)) })
    this.result.catch(() => {}) // reported by done()
    this.server = createServer((socket) => {
      if (this.stream !== undefined) { socket.destroy(); return } // one client per scenario
      socket.setNoDelay(true)
      this.stream = new FrameStream(socket)
      this.run(this.stream).then(() => this.settle(), (err: unknown) => this.settle(err))
    })
  }

  start(): Promise<void> {
    return new Promise((resolve) => this.server.listen(0, '127.0.0.1', () => {
      this.port = (this.server.address() as AddressInfo).port
      resolve()
    }))
  }

  private async run(s: FrameStream): Promise<void> {
    for (const [i, action] of this.script.entries()) {
      const what = `fake relay, action ${i}`
      if (action.expect !== undefined) await s.expect(action.expect, this.vars, what)
      else if (action.send !== undefined) await s.write(action.send, this.vars)
      else if (action.send_bytewise !== undefined) await s.writeBytewise(action.send_bytewise, this.vars)
      else if (action.close === true) s.socket.end()
      else if (action.expect_end === true) await s.expectEnd(what)
      else throw new Error(`${what}: unknown action ${JSON.stringify(action)}`)
    }
  }

  async done(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error('the fake relay script did not finish')), WAIT_MS * 2) })
    try {
      await Promise.race([this.result, timeout])
    } finally {
      clearTimeout(timer)
    }
  }

  stop(): Promise<void> {
    this.stream?.close()
    return new Promise((resolve) => this.server.close(() => resolve()))
  }
}
