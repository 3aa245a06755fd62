/**
 * Four small, guarded fixes to libp2p's per-message costs, applied at run time to the
 * prototypes of classes the relay uses (in the spirit of the xsalsa20 work-around in
 * libp2p-v3-notes.md). Found profiling a request/reply across two relays: before them, a
 * sequential request cost each relay ~600 µs of CPU and p99 was 12 ms; see docs/performance.md.
 *
 * 1. One write per message on TCP sockets. Noise hands the TCP connection each encrypted
 *    message as two pieces — a 2-byte length and the ciphertext — and @libp2p/tcp writes them
 *    one `socket.write` at a time. With TCP_NODELAY (libp2p's default, which request latency
 *    needs) that is two syscalls and usually two packets per message, and the receiver wakes
 *    twice. Corking the socket around the pieces makes Node write them as one writev. The class
 *    is not exported by @libp2p/tcp: the patch goes on the prototype of the first live TCP
 *    connection a relay sees.
 * 2. No exception per message received. @libp2p/utils' LengthPrefixedDecoder ends every batch
 *    of input by calling the length decoder on an empty buffer, which for Noise's 2-byte
 *    lengths throws a RangeError (caught: "need more bytes"); building that error's stack was
 *    12% of a relay's CPU on a request/reply path. An empty buffer now reads as "length 0",
 *    which the decoder's own loop takes as "need more bytes" without the throw.
 * 3. Small window updates coalesced. @libp2p/yamux answers every data frame it receives with
 *    a WINDOW_UPDATE frame, so each request and each reply crossing a link was followed by a
 *    second Noise message the other way: a second writev on the receiver and a wake-up of the
 *    sender just to read 12 bytes (strace of a relay under sequential requests: 2 writevs per
 *    request where 1 carries it). Now an update for less than a quarter of the window waits up
 *    to WINDOW_UPDATE_DELAY_MS (5 ms) for more to join it; a quarter or more goes at once, and
 *    the window grows exactly as yamux grows it. The sender's view of its window is never more
 *    than 5 ms staler than unpatched — nothing on a path whose round trip is longer — so flow
 *    control behaves as before under pressure. (Updates once per half or quarter window, as
 *    go-yamux and rust-yamux do, held a sender's window dry for as long as the receiver took to
 *    consume a quarter of it: under 1 Mbit/s + 10% loss, tunnel streams stalled mid-frame while
 *    the link on the same connection delivered; see docs/performance.md.)
 * 4. No throw-away copy per Noise message received. Noise's decrypt takes, for every message,
 *    `chunk.subarray(...)` of the ciphertext as a buffer the decrypter may write the plaintext
 *    into. When the message arrived in more than one TCP read — nearly always for a 64 KiB
 *    message — that is a copy of the whole message, and only the WebAssembly decrypter (messages
 *    under 1,200 bytes) uses it: node's ChaCha20-Poly1305, which decrypts everything larger,
 *    ignores it. Copying it was 4% of the receiving relay's CPU under 1 KiB pub/sub across two
 *    relays, plus the garbage. The patched decrypt makes that buffer only where it is free (the
 *    message is one piece) or used (a small message). The class is not exported: the patch
 *    goes on the prototype of the first secured connection (wrapping the encrypter's factory).
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Uint8ArrayList } from 'uint8arraylist'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'

interface CorkableSocket {
  cork(): void
  uncork(): void
}

interface TcpMaConnProto {
  sendData(data: Iterable<Uint8Array>): unknown
  __heraldCorked?: boolean
}

/** Patch 1, given a live connection's multiaddr connection; false when it is not TCP's. */
export function corkTcpWrites(maConn: unknown): boolean {
  if (typeof maConn !== 'object' || maConn === null) return false
  const proto = Object.getPrototypeOf(maConn) as TcpMaConnProto | null
  const socket = (maConn as { socket?: Partial<CorkableSocket> }).socket
  if (proto === null || typeof proto.sendData !== 'function' || typeof socket?.cork !== 'function' || typeof socket.uncork !== 'function') return false
  if (proto.__heraldCorked === true) return true
  const sendData = proto.sendData
  proto.sendData = function (this: { socket: CorkableSocket }, data: Iterable<Uint8Array>): unknown {
    this.socket.cork()
    try {
      return sendData.call(this, data)
    } finally {
      this.socket.uncork()
    }
  }
  proto.__heraldCorked = true
  return true
}

type LengthDecoder = (data: { byteLength: number }) => number

interface DecoderShape {
  lengthDecoder: LengthDecoder
  decode(buf: unknown): unknown
  __heraldNoThrow?: boolean
}

/** Patch 2 (once per process). */
export function quietLengthDecoding(): boolean {
  const proto = LengthPrefixedDecoder.prototype as unknown as DecoderShape & { __heraldPatched?: boolean }
  if (typeof proto.decode !== 'function') return false
  if (proto.__heraldPatched === true) return true
  const decode = proto.decode
  proto.decode = function (this: DecoderShape, buf: unknown): unknown {
    if (this.__heraldNoThrow !== true && typeof this.lengthDecoder === 'function') {
      const inner = this.lengthDecoder
      this.lengthDecoder = (data) => (data.byteLength === 0 ? 0 : inner(data))
      this.__heraldNoThrow = true
    }
    return decode.call(this, buf)
  }
  proto.__heraldPatched = true
  return true
}

export interface YamuxStreamShape {
  state: number
  streamId: number
  recvWindow: number
  recvWindowCapacity: number
  maxStreamWindowSize: number
  epochStart: number
  getRTT(): number
  sendFrame(header: { type: number; flag: number; streamID: number; length: number }): boolean
  sendWindowUpdate(): void
  __heraldUpdateTimer?: ReturnType<typeof setTimeout>
  __heraldCoalesced?: boolean
}

/** yamux's WINDOW_UPDATE frame type (hashicorp's spec). */
const WINDOW_UPDATE = 1

/** How long a small window update may wait for others to join it (ms). */
export const WINDOW_UPDATE_DELAY_MS = 5
let updateDelayMs = WINDOW_UPDATE_DELAY_MS

/** Announces what the stream has consumed since its last update (if it is still open); exported for tests. */
export function flushWindowUpdate(stream: YamuxStreamShape): void {
  stream.__heraldUpdateTimer = undefined
  // Closed or paused meanwhile: nothing to announce (resuming sends its own update).
  if (stream.state !== StreamState.Established) return
  const delta = stream.recvWindow - stream.recvWindowCapacity
  if (delta <= 0) return
  stream.recvWindowCapacity = stream.recvWindow
  try {
    stream.sendFrame({ type: WINDOW_UPDATE, flag: 0, streamID: stream.streamId, length: delta })
  } catch {
    // The connection under the stream is closing (its streams have not heard yet): no one is
    // left to announce the window to. Thrown from a timer, this would kill the process.
  }
}

/** Patch 3 (once per process; `delayMs` is for tests). */
export function coalescedWindowUpdates(delayMs = WINDOW_UPDATE_DELAY_MS): boolean {
  const proto = YamuxStream.prototype as unknown as YamuxStreamShape
  if (typeof proto.sendWindowUpdate !== 'function' || typeof StreamState.Established !== 'number') return false
  updateDelayMs = delayMs
  if (proto.__heraldCoalesced === true) return true
  const sendWindowUpdate = proto.sendWindowUpdate
  proto.sendWindowUpdate = function (this: YamuxStreamShape): void {
    // Other states send flags (SYN, ACK) or pause updates, and a stream without the fields
    // this version of yamux had: the original decides.
    if (this.state !== StreamState.Established || typeof this.recvWindow !== 'number' || typeof this.epochStart !== 'number' ||
      typeof this.getRTT !== 'function' || typeof this.sendFrame !== 'function') {
      sendWindowUpdate.call(this)
      return
    }
    // The window grows exactly as yamux grows it — judged on every frame received (doubling
    // when frames come within 4 round trips of each other) — so windows are what they were.
    const now = Date.now()
    const rtt = this.getRTT()
    if (rtt > -1 && now - this.epochStart <= rtt * 4) this.recvWindow = Math.min(this.recvWindow * 2, this.maxStreamWindowSize)
    this.epochStart = now
    const delta = this.recvWindow - this.recvWindowCapacity
    if (delta <= 0) return
    if (delta >= this.recvWindow / 4) {
      // A quarter of the window or more: at once, as yamux would.
      if (this.__heraldUpdateTimer !== undefined) clearTimeout(this.__heraldUpdateTimer)
      flushWindowUpdate(this)
    } else if (this.__heraldUpdateTimer === undefined) {
      const timer = setTimeout(flushWindowUpdate, updateDelayMs, this)
      timer.unref()
      this.__heraldUpdateTimer = timer
    }
  }
  proto.__heraldCoalesced = true
  return true
}

/** Noise's limits (@chainsafe/libp2p-noise constants.js): a message, its tag, and where its WebAssembly decrypter takes over. */
const NOISE_MSG_MAX = 65535
const NOISE_TAG = 16
const NOISE_SMALL_MSG = 1200

interface Bytes {
  byteLength: number
  subarray(begin?: number, end?: number): Uint8Array
}
type Chunk = Uint8Array | (Bytes & { sublist(begin: number, end: number): Bytes })

interface NoiseStreamShape {
  handshake: { decrypt(ciphertext: Bytes, dst?: Uint8Array): Uint8Array | Uint8ArrayList }
  metrics?: { decryptedPackets: { increment(): void }; decryptErrors: { increment(): void } }
  decrypt(chunk: Chunk): Uint8ArrayList
  __heraldDecrypt?: boolean
}

/** Noise's EncryptedMessageStream.decrypt, less the copy (patch 4). Exported for tests. */
export function decryptNoiseMessages(this: NoiseStreamShape, chunk: Chunk): Uint8ArrayList {
  const output = new Uint8ArrayList()
  const whole = chunk instanceof Uint8Array
  for (let i = 0; i < chunk.byteLength; i += NOISE_MSG_MAX) {
    const end = Math.min(i + NOISE_MSG_MAX, chunk.byteLength)
    if (end - NOISE_TAG < i) throw new Error('Invalid chunk')
    const encrypted = whole ? chunk.subarray(i, end) : chunk.sublist(i, end)
    const dst = whole || end - i < NOISE_SMALL_MSG ? chunk.subarray(i, end - NOISE_TAG) : undefined
    try {
      output.append(this.handshake.decrypt(encrypted, dst))
      this.metrics?.decryptedPackets.increment()
    } catch (e) {
      this.metrics?.decryptErrors.increment()
      throw e
    }
  }
  return output
}

/** Patch 4 on one secured connection's class; false when it is not the shape this was written for. */
export function patchNoiseStream(connection: unknown): boolean {
  if (typeof connection !== 'object' || connection === null) return false
  const proto = Object.getPrototypeOf(connection) as NoiseStreamShape | null
  const handshake = (connection as Partial<NoiseStreamShape>).handshake
  if (proto === null || typeof proto.decrypt !== 'function' || proto.decrypt.length !== 1 || typeof handshake?.decrypt !== 'function') return false
  if (proto.__heraldDecrypt !== true) {
    proto.decrypt = decryptNoiseMessages
    proto.__heraldDecrypt = true
  }
  return true
}

interface SecuringEncrypter {
  secureInbound(...args: never[]): Promise<{ connection: unknown }>
  secureOutbound(...args: never[]): Promise<{ connection: unknown }>
}

/** Wraps a Noise encrypter's factory so that the connections it secures get patch 4. */
export function withNoiseDecryptPatch<C, E extends SecuringEncrypter>(factory: (components: C) => E): (components: C) => E {
  return (components) => {
    const encrypter = factory(components)
    for (const side of ['secureInbound', 'secureOutbound'] as const) {
      const secure = encrypter[side].bind(encrypter) as (...args: unknown[]) => Promise<{ connection: unknown }>
      const patched = async (...args: unknown[]): Promise<{ connection: unknown }> => {
        const secured = await secure(...args)
        patchNoiseStream(secured.connection)
        return secured
      }
      ;(encrypter as unknown as Record<string, unknown>)[side] = patched
    }
    return encrypter
  }
}
