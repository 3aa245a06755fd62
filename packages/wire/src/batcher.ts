import { FRAME_HEADER_BYTES } from './constants.js'
import { copyBytes, encodeFrame, frameSize, writeFrame } from './encode.js'
import type { Frame } from './frames.js'

/** Where a frame's body (its first field) starts: right after the header. */
const BODY_AT = FRAME_HEADER_BYTES

/** Default batch size: frames are flushed as one write when this many bytes are queued. */
export const DEFAULT_BATCH_BYTES = 64 * 1024

export interface FrameBatcherInit {
  /** Receives each flushed batch (one or more whole frames, in order). */
  sink: (bytes: Uint8Array) => void
  /** Flush as soon as a batch reaches this size (default 64 KiB). */
  batchBytes?: number
  /** Buffer allocator; Node callers pass Buffer.allocUnsafe to skip zero-filling. */
  alloc?: (size: number) => Uint8Array
  /**
   * Runs the deferred flush. The default is setImmediate (after pending I/O), not a
   * microtask: a caller that awaits each send in a loop resumes on a microtask, so a
   * microtask flush would send one write per message.
   */
  defer?: (task: () => void) => void
}

const defaultDefer: (task: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === 'function'
    ? (task) => { (globalThis as unknown as { setImmediate: (t: () => void) => void }).setImmediate(task) }
    : (task) => { setTimeout(task, 0) }

/**
 * Write coalescing: frames pushed in one tick leave in one write (flushed after the current
 * turn of the event loop, or when the batch is full), never one write per small frame. Each batch is a fresh buffer
 * that is handed to the sink and never touched again, so the sink may keep it.
 */
export class FrameBatcher {
  private readonly sink: (bytes: Uint8Array) => void
  private readonly batchBytes: number
  private readonly alloc: (size: number) => Uint8Array
  private readonly defer: (task: () => void) => void
  private buf: Uint8Array | undefined
  private len = 0
  private scheduled = false
  private readonly flushTask = (): void => {
    this.scheduled = false
    this.flush()
  }

  constructor(init: FrameBatcherInit) {
    this.sink = init.sink
    this.batchBytes = init.batchBytes ?? DEFAULT_BATCH_BYTES
    this.alloc = init.alloc ?? ((n) => new Uint8Array(n))
    this.defer = init.defer ?? defaultDefer
  }

  /** Bytes queued and not yet handed to the sink. */
  get pending(): number {
    return this.len
  }

  /** Queues one frame (its payload is copied). */
  push(frame: Frame): void {
    const size = frameSize(frame)
    if (size > this.batchBytes) {
      this.flush()
      this.sink(encodeFrame(frame))
      return
    }
    const buf = this.reserve(size)
    writeFrame(frame, buf, this.len)
    this.len += size
    this.schedule()
  }

  /**
   * Hot path for PUBLISH, EVENT and BROADCAST: a name (from nameBytes()) and a payload, written
   * straight into the batch with no intermediate frame object.
   */
  pushNamed(type: number, name: Uint8Array, payload: Uint8Array): void {
    const size = BODY_AT + 1 + name.length + payload.length
    const [buf, p] = this.place(size)
    writeHeader(buf, p, size, type)
    buf[p + BODY_AT] = name.length
    copyInto(buf, p + BODY_AT + 1, name)
    copyInto(buf, p + BODY_AT + 1 + name.length, payload)
    this.placed(buf, size)
  }

  /** Hot path for REPLY and TUNNEL_DATA: a u32 id and a payload. */
  pushIdPayload(type: number, id: number, payload: Uint8Array): void {
    const size = BODY_AT + 4 + payload.length
    const [buf, p] = this.place(size)
    writeHeader(buf, p, size, type)
    buf[p + BODY_AT] = id >>> 24
    buf[p + BODY_AT + 1] = (id >>> 16) & 0xff
    buf[p + BODY_AT + 2] = (id >>> 8) & 0xff
    buf[p + BODY_AT + 3] = id & 0xff
    copyInto(buf, p + BODY_AT + 4, payload)
    this.placed(buf, size)
  }

  /** Where a frame of `size` bytes goes: the batch, or (too big for a batch) a buffer of its own. */
  private place(size: number): [Uint8Array, number] {
    if (size > this.batchBytes) {
      this.flush()
      return [this.alloc(size), 0]
    }
    return [this.reserve(size), this.len]
  }

  private placed(buf: Uint8Array, size: number): void {
    if (buf !== this.buf) {
      this.sink(buf)
      return
    }
    this.len += size
    this.schedule()
  }

  /** Queues bytes that are already one or more encoded frames (fan-out of the same bytes). */
  pushRaw(bytes: Uint8Array): void {
    if (bytes.length > this.batchBytes) {
      this.flush()
      this.sink(copyBytes(bytes))
      return
    }
    const buf = this.reserve(bytes.length)
    buf.set(bytes, this.len)
    this.len += bytes.length
    this.schedule()
  }

  /** Queues encoded frames the caller gives away (no copy): they leave as one write, in order. */
  pushOwned(bytes: Uint8Array): void {
    this.flush()
    this.sink(bytes)
  }

  /**
   * Hands the current batch to the sink now. A batch that fills at most half its buffer (a
   * request, a reply, the events of one turn on a connection that is not saturated) leaves as
   * a copy of just its bytes and the buffer is kept for the next one; a fuller batch is handed
   * over as it is (no copy where the bytes are many). Otherwise every flush would cost a fresh
   * batch buffer: at a thousand round trips a second the garbage collector was a fifth of a
   * relay's CPU, and a paced stream of 1 KiB events (50,000 a second, a few per flush) made a
   * relay allocate twice the bytes it wrote, all of it kept until the next scavenge.
   */
  flush(): void {
    if (this.len === 0 || this.buf === undefined) return
    if (this.len * 2 <= this.buf.length) {
      const out = this.alloc(this.len)
      out.set(this.buf.subarray(0, this.len))
      this.len = 0
      this.sink(out)
      return
    }
    const out = this.buf.subarray(0, this.len)
    this.buf = undefined
    this.len = 0
    this.sink(out)
  }

  /** Drops anything queued (the connection is gone). */
  discard(): void {
    this.buf = undefined
    this.len = 0
  }

  private reserve(size: number): Uint8Array {
    if (this.buf !== undefined && this.len + size > this.buf.length) this.flush()
    if (this.buf === undefined) this.buf = this.alloc(this.batchBytes)
    return this.buf
  }

  private schedule(): void {
    if (this.len >= this.batchBytes) {
      this.flush()
      return
    }
    if (!this.scheduled) {
      this.scheduled = true
      this.defer(this.flushTask)
    }
  }
}

function writeHeader(buf: Uint8Array, p: number, size: number, type: number): void {
  const len = size - 4
  buf[p] = len >>> 24
  buf[p + 1] = (len >>> 16) & 0xff
  buf[p + 2] = (len >>> 8) & 0xff
  buf[p + 3] = len & 0xff
  buf[p + FRAME_HEADER_BYTES - 1] = type
}

/** Small copies by hand: cheaper than set() for a few dozen bytes. */
function copyInto(buf: Uint8Array, p: number, src: Uint8Array): void {
  const n = src.length
  if (n <= 32) {
    for (let i = 0; i < n; i++) buf[p + i] = src[i] as number
  } else {
    buf.set(src, p)
  }
}
