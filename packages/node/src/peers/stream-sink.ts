import type { FrameSink } from '@herald/wire'
import type { ByteStream } from '../overlay/overlay.js'

/**
 * A FrameChannel's sink on an overlay stream (which may not be open yet). A class, not an
 * object literal: `buffered` is read on every droppable send, and literals with getters would
 * give every channel a shape of its own (a megamorphic read on the hot path).
 */
export class StreamSink implements FrameSink {
  constructor(
    private readonly stream: () => ByteStream | undefined,
    /** The stream refused the bytes (it is closed): the owner closes up. */
    private readonly failed: (err: Error) => void,
  ) {}

  write(bytes: Uint8Array): boolean {
    try {
      return (this.stream() as ByteStream).send(bytes)
    } catch (err) {
      this.failed(err as Error)
      return true
    }
  }

  get buffered(): number {
    return this.stream()?.writeBufferLength ?? 0
  }
}
