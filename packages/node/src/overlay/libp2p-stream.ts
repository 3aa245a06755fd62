import type { Stream } from '@libp2p/interface'
import { toError, type ByteStream, type ByteStreamEvents, type StreamKind } from './overlay.js'

/** A libp2p stream as the overlay port's ByteStream. */
export class Libp2pByteStream implements ByteStream {
  constructor(
    private readonly stream: Stream,
    readonly kind: StreamKind,
    readonly remotePeer: string,
  ) {}

  send(bytes: Uint8Array): boolean {
    return this.stream.send(bytes)
  }

  get writeBufferLength(): number {
    return this.stream.writeBufferLength
  }

  close(): Promise<void> {
    // close() waits for the write buffer to empty and rejects with an event object (not an
    // Error) if the stream dies meanwhile (libp2p-v3-notes.md, pitfall 1).
    return this.stream.close().catch((err: unknown) => { throw toError(err) })
  }

  abort(err: Error): void {
    this.stream.abort(err)
  }

  attach(events: ByteStreamEvents): void {
    const s = this.stream
    // A yamux frame's data comes as a list when it spans decrypted Noise messages (a 64 KiB
    // frame nearly always does): its pieces are handed on one by one, not concatenated — the
    // frame decoder takes pieces, and joining them was a copy of every byte received.
    s.addEventListener('message', (e) => {
      const data = e.data
      if (data instanceof Uint8Array) events.message(data)
      else for (const piece of data) events.message(piece)
    })
    s.addEventListener('drain', () => events.drain())
    // 'close' fires only when both sides closed; a peer that closed its side will send nothing more.
    s.addEventListener('remoteCloseWrite', () => events.remoteClose())
    s.addEventListener('close', (e) => events.close((e as { error?: Error }).error))
  }
}
