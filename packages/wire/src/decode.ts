import { DEFAULT_MAX_FRAME_BYTES, FRAME_HEADER_BYTES, MAGIC, MAX_TEXT_BYTES } from './constants.js'
import { ErrorCode, toErrorCode, WireError } from './errors.js'
import type { Frame, FrameType } from './frames.js'
import { SCHEMA } from './schema.js'

// ignoreBOM: a leading U+FEFF is part of a name or text, not a marker to strip.
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const EMPTY = new Uint8Array(0)

function protocolError(message: string): WireError {
  return new WireError(ErrorCode.protocol, message)
}

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw protocolError(`${what} is not valid UTF-8`)
  }
}

/** One frame as cut from the byte stream: its type, a view of the whole frame and of its body. */
export interface RawFrame {
  type: number
  /** The whole frame, header included (a relay can forward these bytes as they are). */
  frame: Uint8Array
  body: Uint8Array
}

export interface FrameDecoderInit {
  /** Frames longer than this (type + body) are a protocol error. */
  maxFrameBytes?: number
}

/**
 * Cuts a byte stream into frames. Accepts reads split or coalesced anywhere. Memory held is
 * what was received and not yet returned; a frame's length is checked against the limit
 * before anything is allocated for it.
 */
export class FrameDecoder {
  readonly maxFrameBytes: number
  private chunks: Uint8Array[] = []
  // Consumed chunks are skipped by index, not shift()ed: shifting a long array is O(n), so a
  // frame arriving as many tiny reads would cost quadratic time (a hostile client's lever).
  private first = 0 // index of the first live chunk
  private head = 0 // offset into chunks[first]
  private total = 0 // bytes buffered, from head
  private failed: WireError | undefined

  constructor(init: FrameDecoderInit = {}) {
    this.maxFrameBytes = init.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES
  }

  /** Bytes received and not yet returned as frames (a stalled half frame shows here). */
  get buffered(): number {
    return this.total
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.total += chunk.length
  }

  /**
   * The allocation-free cursor under next(): advances to the next complete frame and returns
   * its type, or -1 when more bytes are needed. The frame (header included) is then
   * `buf[start, end)`, valid until the next call. Throws WireError.
   */
  advance(): number {
    if (this.failed !== undefined) throw this.failed
    if (this.total < 4) return -1
    const length = this.peekU32()
    if (length < 1 || length > this.maxFrameBytes) {
      this.failed = new WireError(
        length < 1 ? ErrorCode.protocol : ErrorCode.tooLarge,
        length < 1 ? 'frame length 0' : `frame of ${length} bytes exceeds the limit of ${this.maxFrameBytes}`,
      )
      throw this.failed
    }
    const n = 4 + length
    if (this.total < n) return -1
    const first = this.chunks[this.first] as Uint8Array
    if (first.length - this.head >= n) {
      this.total -= n
      this.buf = first
      this.start = this.head
      this.end = this.head + n
      this.head += n
      if (this.head === first.length) this.dropFirst()
      this.compact()
    } else {
      this.buf = this.take(n)
      this.start = 0
      this.end = n
    }
    return this.buf[this.start + FRAME_HEADER_BYTES - 1] as number
  }

  /** See advance(). */
  buf: Uint8Array = EMPTY
  start = 0
  end = 0

  /** The next complete frame, or null when more bytes are needed. Throws WireError. */
  next(): RawFrame | null {
    const type = this.advance()
    if (type < 0) return null
    const bytes = this.buf.subarray(this.start, this.end)
    return { type, frame: bytes, body: bytes.subarray(FRAME_HEADER_BYTES) }
  }

  private peekU32(): number {
    const first = this.chunks[this.first] as Uint8Array
    if (first.length - this.head >= 4) {
      const h = this.head
      return ((first[h] as number) * 0x1000000) + (((first[h + 1] as number) << 16) | ((first[h + 2] as number) << 8) | (first[h + 3] as number))
    }
    let v = 0
    let need = 4
    let ci = this.first
    let off = this.head
    while (need > 0) {
      const c = this.chunks[ci] as Uint8Array
      while (off < c.length && need > 0) {
        v = v * 256 + (c[off++] as number)
        need--
      }
      ci++
      off = 0
    }
    return v
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[this.first] as Uint8Array
    this.total -= n
    let out: Uint8Array
    if (first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n)
      this.head += n
      if (this.head === first.length) this.dropFirst()
    } else {
      out = new Uint8Array(n)
      let p = 0
      while (p < n) {
        const c = this.chunks[this.first] as Uint8Array
        const m = Math.min(c.length - this.head, n - p)
        out.set(c.subarray(this.head, this.head + m), p)
        p += m
        this.head += m
        if (this.head === c.length) this.dropFirst()
      }
    }
    this.compact()
    return out
  }

  private dropFirst(): void {
    this.chunks[this.first] = EMPTY // release the chunk's memory now
    this.first++
    this.head = 0
  }

  /** Forgets consumed chunk slots, in amortised O(1) per chunk. */
  private compact(): void {
    if (this.first === this.chunks.length) {
      this.chunks = []
      this.first = 0
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first)
      this.first = 0
    }
  }
}

/** Reads fields from a frame body with bounds checks. */
class BodyReader {
  pos = 0
  private readonly view: DataView
  constructor(private readonly body: Uint8Array) {
    this.view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  }
  private need(n: number, what: string): void {
    if (this.pos + n > this.body.length) throw protocolError(`frame truncated in ${what}`)
  }
  u8(what: string): number {
    this.need(1, what)
    return this.body[this.pos++] as number
  }
  u16(what: string): number {
    this.need(2, what)
    const v = this.view.getUint16(this.pos)
    this.pos += 2
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const v = this.view.getUint32(this.pos)
    this.pos += 4
    return v
  }
  bytes(n: number, what: string): Uint8Array {
    this.need(n, what)
    const v = this.body.subarray(this.pos, this.pos + n)
    this.pos += n
    return v
  }
  rest(): Uint8Array {
    const v = this.body.subarray(this.pos)
    this.pos = this.body.length
    return v
  }
  get remaining(): number {
    return this.body.length - this.pos
  }
}

/** Decodes a frame body into a typed frame. Payloads are views into `body` (no copy). */
export function parseFrame(type: number, body: Uint8Array): Frame {
  const schema = SCHEMA[type]
  if (schema === undefined) throw protocolError(`unknown frame type 0x${type.toString(16)}`)
  const r = new BodyReader(body)
  const out: Record<string, unknown> = { type }
  for (const [name, kind] of schema) {
    switch (kind) {
      case 'u8': out[name] = r.u8(name); break
      case 'u16': out[name] = r.u16(name); break
      case 'u32': out[name] = r.u32(name); break
      case 'code': out[name] = toErrorCode(r.u16(name)); break
      case 'magic': {
        const m = r.bytes(MAGIC.length, name)
        for (let i = 0; i < MAGIC.length; i++) if (m[i] !== MAGIC[i]) throw protocolError('bad magic: not a Herald client')
        break
      }
      case 'name': {
        const n = r.u8(name)
        if (n === 0) throw protocolError(`${name} is empty`)
        out[name] = decodeUtf8(r.bytes(n, name), name)
        break
      }
      case 'text': {
        const n = r.u16(name)
        if (n > MAX_TEXT_BYTES) throw protocolError(`${name} of ${n} bytes exceeds ${MAX_TEXT_BYTES}`)
        out[name] = decodeUtf8(r.bytes(n, name), name)
        break
      }
      case 'rest': out[name] = r.rest(); break
    }
  }
  if (r.remaining !== 0) throw protocolError(`${r.remaining} trailing bytes in frame 0x${type.toString(16)}`)
  if (type === 0x01 && out['role'] !== 0 && out['role'] !== 1) throw protocolError(`unknown role ${String(out['role'])}`)
  return out as unknown as Frame
}

/** Parses the frame at `buf[start, end)` (header included), as a channel's onFrame sees it. */
export function parseFrameAt(type: number, buf: Uint8Array, start: number, end: number): Frame {
  return parseFrame(type, buf.subarray(start + FRAME_HEADER_BYTES, end))
}

/** Cuts and parses in one step: the next typed frame, or null when more bytes are needed. */
export function nextFrame(decoder: FrameDecoder): Frame | null {
  const raw = decoder.next()
  return raw === null ? null : parseFrame(raw.type as FrameType, raw.body)
}

/**
 * The payload size of a whole, valid encoded frame whose body is a name then the payload
 * (PUBLISH, EVENT, BROADCAST), from its length and name length alone: a relay checks the
 * bytes it fans out against each receiver's limit without decoding them.
 */
export function namedPayloadBytes(frame: Uint8Array): number {
  return frame.length - FRAME_HEADER_BYTES - 1 - (frame[FRAME_HEADER_BYTES] ?? 0)
}

/**
 * Decodes the name of the frame at `buf[start, end)` (PUBLISH, EVENT, BROADCAST: a u8 length
 * then the name) without allocating when it is the same name as last time — a publisher
 * usually repeats its topic. Returns the name; `payloadStart` is where the payload begins.
 */
export class NameReader {
  private last: Uint8Array = new Uint8Array(0)
  private lastName = ''
  payloadStart = 0

  read(buf: Uint8Array, start: number, end: number): string {
    const n = buf[start + FRAME_HEADER_BYTES]
    const from = start + FRAME_HEADER_BYTES + 1
    if (n === undefined || from > end) throw protocolError('frame truncated in name')
    if (n === 0) throw protocolError('name is empty')
    if (from + n > end) throw protocolError('frame truncated in name')
    this.payloadStart = from + n
    const last = this.last
    if (last.length === n) {
      let same = true
      for (let i = 0; i < n; i++) {
        if (last[i] !== buf[from + i]) {
          same = false
          break
        }
      }
      if (same) return this.lastName
    }
    const bytes = Uint8Array.prototype.slice.call(buf, from, from + n)
    const name = decodeUtf8(bytes, 'name')
    this.last = bytes
    this.lastName = name
    return name
  }
}
