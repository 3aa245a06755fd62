import { copyBytes, ErrorCode, type AckFrame, type FailureFrame, type ReplyFrame } from '@herald/wire'
import { TimeoutError, errorFromWire } from './errors.js'
import { SealKind, open, type KeyRing } from './keys.js'
import { abortError, withDeadline, type WaitOptions } from './util.js'

interface PendingRequest {
  resolve: (v: Uint8Array) => void
  reject: (e: unknown) => void
  timer: ReturnType<typeof setTimeout> | undefined
  cluster: string
  ring: KeyRing | undefined
}

interface PendingAck {
  resolve: () => void
  reject: (e: unknown) => void
  /** Runs as the ACK is read, before any frame after it. */
  onAck: (() => void) | undefined
}

/**
 * What a connection waits for from the relay: replies to requests (each with its deadline and
 * abort signal) and acknowledgements of registrations and subscriptions. Each settles once.
 */
export class PendingCalls {
  private readonly requests = new Map<number, PendingRequest>()
  private readonly acks = new Map<number, PendingAck>()
  private nextSeq = 1

  /** Request ids in use (the connection allocates them). */
  get requestIds(): ReadonlyMap<number, unknown> {
    return this.requests
  }

  /** Waits for the answer to request `id`, sent by `send` once it is tracked. */
  request(id: number, cluster: string, ring: KeyRing | undefined, options: { timeoutMs: number; signal?: AbortSignal | undefined }, send: () => void): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      const entry: PendingRequest = { resolve, reject, timer: undefined, cluster, ring }
      entry.timer = setTimeout(() => {
        if (this.requests.delete(id)) reject(new TimeoutError(`request to "${cluster}" timed out after ${options.timeoutMs} ms`))
      }, options.timeoutMs)
      const signal = options.signal
      if (signal !== undefined) {
        signal.addEventListener('abort', () => {
          if (!this.requests.delete(id)) return
          clearTimeout(entry.timer)
          reject(abortError(signal, `request to "${cluster}"`))
        }, { once: true })
      }
      this.requests.set(id, entry)
      send()
    })
  }

  reply(f: ReplyFrame): void {
    const r = this.take(f.id)
    if (r === undefined) return
    if (r.ring === undefined) {
      r.resolve(copyBytes(f.payload))
      return
    }
    try {
      r.resolve(open(r.ring, SealKind.reply, r.cluster, f.payload).plain)
    } catch (err) {
      r.reject(err)
    }
  }

  failure(f: FailureFrame): void {
    this.take(f.id)?.reject(errorFromWire(f.code, f.message))
  }

  /** Waits for the ACK of the frame `send` sends with the sequence number it is given. */
  ack(send: (seq: number) => void, options: WaitOptions, onAck?: () => void): Promise<void> {
    const seq = this.nextSeq
    this.nextSeq = this.nextSeq >= 0xffffffff ? 1 : this.nextSeq + 1
    const p = new Promise<void>((resolve, reject) => this.acks.set(seq, { resolve, reject, onAck }))
    send(seq)
    return withDeadline(p, options, 'relay acknowledgement', () => this.acks.delete(seq))
  }

  acked(f: AckFrame): void {
    const a = this.acks.get(f.seq)
    if (a === undefined) return
    this.acks.delete(f.seq)
    a.onAck?.()
    if (f.code === ErrorCode.ok) a.resolve()
    else a.reject(errorFromWire(f.code, f.message))
  }

  /** The connection ended: everything still waiting fails with `reason`. */
  rejectAll(reason: Error): void {
    for (const r of this.requests.values()) {
      clearTimeout(r.timer)
      r.reject(reason)
    }
    this.requests.clear()
    for (const a of this.acks.values()) a.reject(reason)
    this.acks.clear()
  }

  private take(id: number): PendingRequest | undefined {
    const r = this.requests.get(id)
    if (r === undefined) return undefined
    this.requests.delete(id)
    clearTimeout(r.timer)
    return r
  }
}
