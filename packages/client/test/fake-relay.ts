/**
 * A relay played by the test, inside the SDK's socket: everything the SDK writes is decoded
 * into `frames`, and the test answers with `reply(frame)`. `writableLength` is whatever the
 * test says, so back-pressure is under its control; `writes` counts the SDK's socket writes
 * (what write coalescing is about).
 */
import { EventEmitter } from 'node:events'
import { ErrorCode, FrameDecoder, FrameType, encodeFrame, nextFrame, type Frame } from '@herald/wire'
import { connect, register, type Connection, type MemberHandler, type Service } from '../src/index.js'

export class FakeRelaySocket extends EventEmitter {
  readonly frames: Frame[] = []
  writes = 0
  bytesWritten = 0
  writableLength = 0
  /** Acknowledge UNSUBSCRIBE frames by itself. */
  autoAck = false
  private readonly decoder = new FrameDecoder()
  private waiters: Array<{ pred: (f: Frame) => boolean; resolve: (f: Frame) => void }> = []

  write(bytes: Uint8Array): boolean {
    this.writes++
    this.bytesWritten += bytes.length
    this.decoder.push(bytes)
    for (let f = nextFrame(this.decoder); f !== null; f = nextFrame(this.decoder)) {
      this.frames.push(f)
      if (f.type === FrameType.hello) this.reply({ type: FrameType.welcome, version: 1, maxMessageBytes: 1 << 20, nodeId: 'fake' })
      if (f.type === FrameType.unsubscribe && this.autoAck) this.reply({ type: FrameType.ack, seq: f.seq, code: ErrorCode.ok, message: '' })
      for (const w of this.waiters.filter((x) => x.pred(f!))) {
        this.waiters.splice(this.waiters.indexOf(w), 1)
        w.resolve(f)
      }
    }
    return true
  }

  /** Sends frames to the SDK, as one chunk. */
  reply(...frames: Frame[]): void {
    const bytes = Buffer.concat(frames.map((f) => encodeFrame(f)))
    setImmediate(() => this.emit('data', bytes))
  }

  /** The next frame the SDK sends that matches (or one it already sent). */
  next<T extends Frame['type']>(type: T, pred: (f: Extract<Frame, { type: T }>) => boolean = () => true): Promise<Extract<Frame, { type: T }>> {
    const match = (f: Frame): boolean => f.type === type && pred(f as Extract<Frame, { type: T }>)
    const seen = this.frames.find(match)
    if (seen !== undefined) {
      this.frames.splice(this.frames.indexOf(seen), 1)
      return Promise.resolve(seen as Extract<Frame, { type: T }>)
    }
    return new Promise((resolve) => this.waiters.push({ pred: match, resolve: (f) => { this.frames.splice(this.frames.indexOf(f), 1); resolve(f as Extract<Frame, { type: T }>) } }))
  }

  /** The relay's socket drained. */
  drain(): void {
    this.writableLength = 0
    this.emit('drain')
  }

  end(): void {
    setImmediate(() => this.emit('close'))
  }

  destroy(): void {
    setImmediate(() => this.emit('close'))
  }
}

export async function fakeConnection(): Promise<{ conn: Connection; relay: FakeRelaySocket }> {
  const relay = new FakeRelaySocket()
  const conn = await connect({ socket: relay })
  return { conn, relay }
}

/** A member registered with a fake relay (the REGISTER is acknowledged). */
export async function fakeMember(handler: MemberHandler, limits = {}): Promise<{ svc: Service; relay: FakeRelaySocket }> {
  const relay = new FakeRelaySocket()
  const registered = register({ socket: relay, cluster: 'c', handler, limits })
  const reg = await relay.next(FrameType.register)
  relay.reply({ type: FrameType.ack, seq: reg.seq, code: ErrorCode.ok, message: '' })
  return { svc: await registered, relay }
}

/** Lets pending I/O callbacks and promise reactions run. */
export async function turn(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}
