import type { Stream } from '@libp2p/interface'
import { toError, type ByteStream, type ByteStreamEvents, type StreamKind } from './overlay.js'

function flatten(data: Uint8Array | { subarray(): Uint8Array }): Uint8Array {
  return data instanceof Uint8Array ? data : data.subarray()
}

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
    s.addEventListener('message', (e) => events.message(flatten(e.data)))
    s.addEventListener('drain', () => events.drain())
    // 'close' fires only when both sides closed; a peer that closed its side will send nothing more.
    s.addEventListener('remoteCloseWrite', () => events.remoteClose())
    s.addEventListener('close', (e) => events.close((e as { error?: Error }).error))
  }
}
