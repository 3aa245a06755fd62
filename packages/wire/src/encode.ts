import { FRAME_HEADER_BYTES, MAGIC, MAX_NAME_BYTES, MAX_TEXT_BYTES } from './constants.js'
import { ErrorCode, WireError } from './errors.js'
import type { Frame } from './frames.js'
import { SCHEMA, type Field } from './schema.js'

const utf8 = new TextEncoder()
const EMPTY = new Uint8Array(0)

/** Names repeat (a publisher sends to a few topics); keep their bytes, within a bound. */
const NAME_CACHE_LIMIT = 4096
const nameCache = new Map<string, Uint8Array>()

/** UTF-8 bytes of a cluster/topic name; throws WireError(invalid) when empty or too long. */
export function nameBytes(name: string): Uint8Array {
  let bytes = nameCache.get(name)
  if (bytes !== undefined) return bytes
  bytes = utf8.encode(name)
  if (bytes.length === 0) throw new WireError(ErrorCode.invalid, 'name is empty')
  if (bytes.length > MAX_NAME_BYTES) {
    throw new WireError(ErrorCode.invalid, `name is ${bytes.length} bytes; the limit is ${MAX_NAME_BYTES}`)
  }
  if (nameCache.size >= NAME_CACHE_LIMIT) nameCache.clear()
  nameCache.set(name, bytes)
  return bytes
}

/** UTF-8 bytes of a message or reason, cut to MAX_TEXT_BYTES at a character boundary. */
export function textBytes(text: string): Uint8Array {
  if (text.length === 0) return EMPTY
  const bytes = utf8.encode(text)
  if (bytes.length <= MAX_TEXT_BYTES) return bytes
  let end = MAX_TEXT_BYTES
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--
  return bytes.subarray(0, end)
}

function fieldValue(frame: Frame, field: Field): unknown {
  return (frame as unknown as Record<string, unknown>)[field[0]]
}

function checkU(value: unknown, bits: 8 | 16 | 32, field: string): number {
  const max = bits === 32 ? 0xffffffff : (1 << bits) - 1
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
    throw new WireError(ErrorCode.invalid, `${field} must be an integer in 0..${max}`)
  }
  return value
}

/**
 * Encodes frames. `size()` then `write()` lets a caller place many frames into one buffer
 * (write coalescing); `encodeFrame()` is the one-frame convenience.
 */
export function frameSize(frame: Frame): number {
  const schema = SCHEMA[frame.type]
  if (schema === undefined) throw new WireError(ErrorCode.invalid, `unknown frame type ${String(frame.type)}`)
  let size = FRAME_HEADER_BYTES
  for (const field of schema) {
    const v = fieldValue(frame, field)
    switch (field[1]) {
      case 'u8': size += 1; break
      case 'u16': case 'code': size += 2; break
      case 'u32': size += 4; break
      case 'magic': size += MAGIC.length; break
      case 'name': size += 1 + nameBytes(String(v)).length; break
      case 'text': size += 2 + textBytes(String(v ?? '')).length; break
      case 'rest': size += (v as Uint8Array).length; break
    }
  }
  return size
}

/** Writes one frame at `offset` of `target` (which must have room for frameSize bytes). */
export function writeFrame(frame: Frame, target: Uint8Array, offset: number): number {
  const schema = SCHEMA[frame.type]
  if (schema === undefined) throw new WireError(ErrorCode.invalid, `unknown frame type ${String(frame.type)}`)
  const start = offset
  let p = offset + FRAME_HEADER_BYTES
  target[offset + 4] = frame.type
  for (const field of schema) {
    const v = fieldValue(frame, field)
    switch (field[1]) {
      case 'u8': target[p++] = checkU(v, 8, field[0]); break
      case 'u16': case 'code': p = putU16(target, p, checkU(v, 16, field[0])); break
      case 'u32': p = putU32(target, p, checkU(v, 32, field[0])); break
      case 'magic': target.set(MAGIC, p); p += MAGIC.length; break
      case 'name': {
        const b = nameBytes(String(v))
        target[p++] = b.length
        target.set(b, p); p += b.length
        break
      }
      case 'text': {
        const b = textBytes(String(v ?? ''))
        p = putU16(target, p, b.length)
        target.set(b, p); p += b.length
        break
      }
      case 'rest': {
        const b = v as Uint8Array
        target.set(b, p); p += b.length
        break
      }
    }
  }
  putU32(target, start, p - start - 4)
  return p
}

function putU16(t: Uint8Array, p: number, v: number): number {
  t[p] = v >>> 8
  t[p + 1] = v & 0xff
  return p + 2
}

function putU32(t: Uint8Array, p: number, v: number): number {
  t[p] = v >>> 24
  t[p + 1] = (v >>> 16) & 0xff
  t[p + 2] = (v >>> 8) & 0xff
  t[p + 3] = v & 0xff
  return p + 4
}

export function encodeFrame(frame: Frame): Uint8Array {
  const out = new Uint8Array(frameSize(frame))
  writeFrame(frame, out, 0)
  return out
}

/** Encodes several frames into one buffer, as a coalescing writer would send them. */
export function encodeFrames(frames: readonly Frame[]): Uint8Array {
  let total = 0
  for (const f of frames) total += frameSize(f)
  const out = new Uint8Array(total)
  let p = 0
  for (const f of frames) p = writeFrame(f, out, p)
  return out
}

const sliceCopy = Uint8Array.prototype.slice
/**
 * A copy of `bytes` that owns its memory. (Buffer#slice returns a view, so `.slice()` on a
 * payload decoded from a socket chunk would keep the whole chunk alive.)
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return sliceCopy.call(bytes)
}
