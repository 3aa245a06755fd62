import { copyBytes, Deque, ErrorCode, FrameType, tunnelCost, type Frame } from '@herald/wire'
import { ClosedError, HeraldError, MessageTooLargeError, errorFromWire } from './errors.js'
import { DEFAULT_TUNNEL_WINDOW } from './constants.js'
import { RESOLVED, toBytes, withDeadline, type Payload, type WaitOptions } from './util.js'
import { SEAL_OVERHEAD, open, seal, type KeyRing, type SealKind } from './keys.js'

/** End-to-end sealing of a tunnel's messages with the cluster key. */
export interface TunnelCrypto {
  ring: KeyRing
  name: string
  sendKind: SealKind
  recvKind: SealKind
}

export interface TunnelOwner {
  sendFrame(frame: Frame): void
  sendIdPayload(type: number, id: number, payload: Uint8Array): void
  readonly maxMessageBytes: number
  forgetTunnel(id: number): void
}

/**
 * One end of a tunnel: an ordered, lossless, flow-controlled message stream to one member
 * (or, on the member's side, to the client that opened it). `send` waits while the other
 * end's allowance is used up; the allowance is granted back as `receive` consumes messages.
 */
export class Tunnel implements AsyncIterable<Uint8Array> {
  readonly id: number
  private readonly owner: TunnelOwner
  private readonly window: number
  private allowance = 0 // bytes the other end lets us send; may dip below 0 by one message
  private sendQueue: Array<{ bytes: Uint8Array; resolve: () => void; reject: (e: unknown) => void }> = []
  /** Messages received and not read yet; flow control bounds it to the window this end grants. */
  private readonly inbox = new Deque<Uint8Array>()
  private consumed = 0 // consumed bytes not yet granted back
  private reader: ((v: IteratorResult<Uint8Array>) => void) | undefined
  private readerReject: ((e: unknown) => void) | undefined
  private isClosed = false
  private closeError: HeraldError | undefined
  private remoteClosed = false
  private readonly crypto: TunnelCrypto | undefined
  /** The key the other end last sealed with: we answer with the same one (key rotation). */
  private peerKeyId: number | undefined

  constructor(init: { id: number; owner: TunnelOwner; window?: number; crypto?: TunnelCrypto }) {
    this.crypto = init.crypto
    this.id = init.id
    this.owner = init.owner
    this.window = init.window ?? DEFAULT_TUNNEL_WINDOW
  }

  /** Internal: the window this end grants when the tunnel is set up. */
  get initialWindow(): number {
    return this.window
  }

  get closed(): boolean {
    return this.isClosed
  }

  /**
   * Sends one message, in order. Resolves once it is handed to the connection; waits while
   * the receiver's allowance is used up (that is how a slow reader throttles the writer).
   */
  send(payload: Payload, options: WaitOptions = {}): Promise<void> {
    if (this.isClosed) return Promise.reject(this.closeError ?? new ClosedError('tunnel is closed'))
    let bytes = toBytes(payload)
    const limit = this.owner.maxMessageBytes - (this.crypto === undefined ? 0 : SEAL_OVERHEAD)
    if (bytes.length > limit) {
      return Promise.reject(new MessageTooLargeError(`tunnel message of ${bytes.length} bytes exceeds the limit of ${limit}`))
    }
    if (this.crypto !== undefined) bytes = seal(this.crypto.ring, this.crypto.sendKind, this.crypto.name, bytes, this.peerKeyId)
    if (this.sendQueue.length === 0 && this.allowance > 0) {
      this.transmit(bytes)
      return RESOLVED
    }
    let entry: { bytes: Uint8Array; resolve: () => void; reject: (e: unknown) => void } | undefined
    const p = new Promise<void>((resolve, reject) => {
      entry = { bytes: copyBytes(bytes), resolve, reject }
      this.sendQueue.push(entry)
    })
    return withDeadline(p, options, 'tunnel send', () => {
      const i = this.sendQueue.indexOf(entry!)
      if (i >= 0) this.sendQueue.splice(i, 1)
    })
  }

  private transmit(bytes: Uint8Array): void {
    this.allowance -= tunnelCost(bytes.length)
    this.owner.sendIdPayload(FrameType.tunnelData, this.id, bytes)
  }

  /** Internal: the other end granted more allowance. */
  grant(bytes: number): void {
    this.allowance += bytes
    while (this.allowance > 0 && this.sendQueue.length > 0) {
      const e = this.sendQueue.shift()!
      this.transmit(e.bytes)
      e.resolve()
    }
  }

  /** Internal: a message arrived. */
  deliver(payload: Uint8Array): void {
    if (this.isClosed && !this.remoteClosed) return
    if (this.crypto !== undefined) {
      try {
        const o = open(this.crypto.ring, this.crypto.recvKind, this.crypto.name, payload)
        this.peerKeyId = o.keyId
        payload = o.plain
      } catch (err) {
        this.owner.sendFrame({ type: FrameType.tunnelClose, tunnel: this.id, code: ErrorCode.key, reason: (err as Error).message })
        this.finish(err as HeraldError, false)
        return
      }
    }
    if (this.reader !== undefined) {
      const r = this.reader
      this.reader = undefined
      this.readerReject = undefined
      this.consume(payload.length)
      r({ value: copyBytes(payload), done: false })
      return
    }
    this.inbox.push(copyBytes(payload))
  }

  private consume(size: number): void {
    // Flow control counts what crossed the wire: a sealed message is SEAL_OVERHEAD longer.
    this.consumed += tunnelCost(size) + (this.crypto === undefined ? 0 : SEAL_OVERHEAD)
    if (this.consumed >= this.window / 4 && !this.isClosed) {
      this.owner.sendFrame({ type: FrameType.tunnelAllowance, tunnel: this.id, bytes: this.consumed })
      this.consumed = 0
    }
  }

  /** The next message. Resolves done once the other end closed and every message was read. */
  next(options: WaitOptions = {}): Promise<IteratorResult<Uint8Array>> {
    const m = this.inbox.shift()
    if (m !== undefined) {
      this.consume(m.length)
      return Promise.resolve({ value: m, done: false })
    }
    if (this.isClosed) {
      if (this.closeError !== undefined) return Promise.reject(this.closeError)
      return Promise.resolve({ value: undefined, done: true })
    }
    if (this.reader !== undefined) return Promise.reject(new HeraldError('INVALID', 'only one pending receive() per tunnel'))
    const p = new Promise<IteratorResult<Uint8Array>>((resolve, reject) => {
      this.reader = resolve
      this.readerReject = reject
    })
    return withDeadline(p, options, 'tunnel receive', () => {
      this.reader = undefined
      this.readerReject = undefined
    })
  }

  /** The next message; rejects with ClosedError when the tunnel ended and nothing is left. */
  async receive(options: WaitOptions = {}): Promise<Uint8Array> {
    const r = await this.next(options)
    if (r.done === true) throw new ClosedError('tunnel closed by the other end')
    return r.value
  }

  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return { next: () => this.next() }
  }

  /** Closes the tunnel from this end; messages already sent are delivered first. */
  close(): Promise<void> {
    if (this.isClosed) return RESOLVED
    this.owner.sendFrame({ type: FrameType.tunnelClose, tunnel: this.id, code: ErrorCode.ok, reason: '' })
    this.finish(undefined, false)
    return RESOLVED
  }

  /** Internal: the other end (or the relay) closed the tunnel. */
  remoteClose(code: number, reason: string): void {
    this.remoteClosed = true
    this.finish(code === ErrorCode.ok ? undefined : errorFromWire(code, reason || 'tunnel failed'), true)
  }

  /** Internal: the connection is gone. */
  abort(error: HeraldError): void {
    this.finish(error, false)
  }

  private finish(error: HeraldError | undefined, keepInbox: boolean): void {
    if (this.isClosed) return
    this.isClosed = true
    this.closeError = error
    this.owner.forgetTunnel(this.id)
    if (!keepInbox) this.inbox.clear()
    const senders = this.sendQueue
    this.sendQueue = []
    const err = error ?? new ClosedError('tunnel is closed')
    for (const s of senders) s.reject(err)
    const r = this.reader
    const rj = this.readerReject
    this.reader = undefined
    this.readerReject = undefined
    if (error !== undefined) rj?.(error)
    else r?.({ value: undefined, done: true })
  }
}
