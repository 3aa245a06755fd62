/** Endpoints played by tests, for the router alone: they record what the router sends them. */
import { DEFAULT_MAX_MESSAGE_BYTES, FrameType, type Frame } from '@herald/wire'
import type { ClientEndpoint, Endpoint, Outlet } from '../../src/index.js'

export class TestOutlet implements Outlet {
  readonly received: Uint8Array[] = []
  dropped = 0
  closed = false
  /** A receiver that cannot take more: offers are dropped. */
  full = false
  /** A receiver behind, with room left: publishers should hold off (Outlet.backedUp). */
  backedUp = false

  constructor(readonly memoryLimit: number, readonly topic: string | undefined) {}

  offer(frame: Uint8Array): boolean {
    if (this.full) {
      this.dropped++
      return false
    }
    this.received.push(frame)
    return true
  }

  close(): void {
    this.closed = true
  }
}

abstract class Recorder {
  readonly frames: Frame[] = []

  send(frame: Frame): void {
    this.frames.push(frame)
  }

  /** Removes and returns the frames of `type` received so far. */
  take<T extends Frame['type']>(type: T): Array<Extract<Frame, { type: T }>> {
    return takeFrames(this.frames, type)
  }
}

/** Removes the frames of `type` from `frames` and returns them, in order. */
export function takeFrames<T extends Frame['type']>(frames: Frame[], type: T): Array<Extract<Frame, { type: T }>> {
  const out = frames.filter((f) => f.type === type) as Array<Extract<Frame, { type: T }>>
  for (const f of out) frames.splice(frames.indexOf(f), 1)
  return out
}

export class TestClient extends Recorder implements ClientEndpoint {
  readonly kind = 'client' as const
  readonly outlets: TestOutlet[] = []

  /** `maxMessageBytes`: what its relay advertised to it (relays of one network may differ). */
  constructor(readonly name = 'client', readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {
    super()
  }

  outlet(memoryLimit: number, topic: string | undefined): TestOutlet {
    const o = new TestOutlet(memoryLimit, topic)
    this.outlets.push(o)
    return o
  }
}

/** Another relay, as the router sees a peer link's requests. */
export class TestPeer extends Recorder implements Endpoint {
  readonly kind = 'peer' as const
}

const utf8 = new TextEncoder()
export const bytes = (s: string): Uint8Array => utf8.encode(s)
export const text = (b: Uint8Array): string => new TextDecoder().decode(b)

export const LIMITS = { requestConcurrency: 64, requestMemory: 1 << 20, broadcastConcurrency: 4, broadcastMemory: 1 << 20 }

/** A REQUEST frame's body for Router.request. */
export function req(id: number, cluster: string, payload: string, timeoutMs = 60_000): { id: number; timeoutMs: number; cluster: string; payload: Uint8Array } {
  return { id, timeoutMs, cluster, payload: bytes(payload) }
}

export const REPLY = FrameType.reply
