import { EventEmitter } from 'node:events'
import { Deque } from '@herald/wire'

/**
 * One end of an in-process client connection: it behaves as much like a node:net socket as
 * sessions and the SDK need (write/writableLength/'drain', pause/resume, end/destroy/'close'),
 * so a client in the same process (a test, an embedding application) talks to a relay with
 * no TCP. Delivery is asynchronous and in order; a paused end reads nothing, so its peer's
 * writableLength grows as a real socket's would.
 */
export class MemorySocket extends EventEmitter {
  /** As node:net: write() returns false past this many unsent bytes. */
  readonly writableHighWaterMark = 16 * 1024
  private readonly out = new Deque<Uint8Array>({ sizeOf: (b) => b.length })
  private peer: MemorySocket | undefined
  private paused = false
  private needDrain = false
  private scheduled = false
  private ending = false
  private isClosed = false
  readonly connecting = false

  /** Two connected ends. */
  static pair(): [MemorySocket, MemorySocket] {
    const a = new MemorySocket()
    const b = new MemorySocket()
    a.peer = b
    b.peer = a
    return [a, b]
  }

  get writableLength(): number {
    return this.out.bytes
  }

  get destroyed(): boolean {
    return this.isClosed
  }

  write(bytes: Uint8Array, cb?: (err?: Error) => void): boolean {
    if (this.isClosed || this.ending) {
      cb?.(new Error('write after end'))
      return false
    }
    if (bytes.length > 0) this.out.push(bytes)
    this.peer?.schedule()
    cb?.()
    const ok = this.out.bytes < this.writableHighWaterMark
    if (!ok) this.needDrain = true
    return ok
  }

  pause(): this {
    this.paused = true
    return this
  }

  resume(): this {
    this.paused = false
    this.schedule()
    return this
  }

  setNoDelay(): this {
    return this
  }

  /** Ends this side once what was written is read; the connection then closes (no half-open). */
  end(): this {
    if (!this.isClosed && !this.ending) {
      this.ending = true
      this.peer?.schedule()
    }
    return this
  }

  destroy(): this {
    this.close()
    this.peer?.close()
    return this
  }

  private schedule(): void {
    if (this.scheduled || this.isClosed) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.deliver()
    })
  }

  /** Reads what the peer wrote. */
  private deliver(): void {
    const from = this.peer
    if (from === undefined || this.isClosed) return
    while (!this.paused && from.out.length > 0 && !this.isClosed) this.emit('data', from.out.shift())
    if (from.needDrain && from.out.length === 0 && !from.isClosed) {
      from.needDrain = false
      from.emit('drain')
    }
    if (from.ending && from.out.length === 0) {
      this.close()
      from.close()
    }
  }

  private close(): void {
    if (this.isClosed) return
    this.isClosed = true
    this.out.clear()
    setImmediate(() => this.emit('close'))
  }
}
