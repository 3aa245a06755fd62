/**
 * Two small, guarded fixes to libp2p's per-message costs, applied at run time to the
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
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'

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
