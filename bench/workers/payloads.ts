/**
 * Numbered payloads for the publisher, handled the same way for both systems.
 *
 * nats.js keeps a reference to each published payload until its next socket write (then it
 * concatenates them: its one copy); the Herald SDK copies the payload into its write batch at
 * once (its one copy). A publisher that rewrote one buffer in place would be correct only for
 * Herald, and a defensive copy on the NATS side only would charge NATS an extra copy. So every
 * message gets bytes of its own that are never written again, carved from 1 MiB slabs (prefilled
 * once, like Node's Buffer pool): per message, one view and a 4-byte sequence number, the same
 * cost on both sides, and the library's own copy is the only one.
 */

const SLAB = 1024 * 1024
const FILL = 0x61

export class PayloadSlab {
  private slab = new Uint8Array(0)
  private view = new DataView(this.slab.buffer)
  private offset = 0
  private readonly stride: number

  constructor(readonly size: number) {
    // Room for the sequence number even when the payload is shorter: it is then not written.
    this.stride = Math.max(size, 4)
  }

  /** Fresh bytes for message `seq` (big-endian uint32 first when size >= 4). */
  next(seq: number): Uint8Array {
    if (this.offset + this.stride > this.slab.length) {
      this.slab = new Uint8Array(Math.max(SLAB, this.stride)).fill(FILL)
      this.view = new DataView(this.slab.buffer)
      this.offset = 0
    }
    const at = this.offset
    this.offset += this.stride
    if (this.size >= 4) this.view.setUint32(at, seq)
    return this.slab.subarray(at, at + this.size)
  }
}
