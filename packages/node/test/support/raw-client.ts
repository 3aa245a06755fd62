/** A client speaking raw frames to a relay over an in-process socket (no SDK): for protocol-level tests. */
import { FrameDecoder, FrameType, PROTOCOL_VERSION, Role, encodeFrame, nextFrame, type Frame } from '@herald/wire'
import type { MemorySocket, Relay } from '../../src/index.js'
import { takeFrames } from './endpoints.js'

export class RawClient {
  readonly frames: Frame[] = []
  closed = false
  private readonly decoder = new FrameDecoder()

  constructor(readonly socket: MemorySocket) {
    socket.on('data', (chunk: Uint8Array) => {
      this.decoder.push(chunk)
      for (let f = nextFrame(this.decoder); f !== null; f = nextFrame(this.decoder)) this.frames.push(f)
    })
    socket.on('close', () => { this.closed = true })
  }

  static async open(relay: Relay, role: number = Role.client): Promise<RawClient> {
    const c = new RawClient(relay.connectInProcess())
    c.send({ type: FrameType.hello, version: PROTOCOL_VERSION, role: role as Role })
    return c
  }

  send(...frames: Frame[]): void {
    this.socket.write(Buffer.concat(frames.map((f) => encodeFrame(f))))
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes)
  }

  /** Removes and returns the frames of `type` received so far. */
  take<T extends Frame['type']>(type: T): Array<Extract<Frame, { type: T }>> {
    return takeFrames(this.frames, type)
  }
}
