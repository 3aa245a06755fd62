// FrameBatcher: write coalescing (one write per turn, never one per small frame), large
// frames on their own, and ownership of the buffers handed to the sink.
import { describe, expect, it } from 'vitest'
import { FrameBatcher, FrameType, encodeFrame, encodeFrames, nameBytes, type Frame } from '../src/index.js'

function setup(batchBytes = 64) {
  const writes: Uint8Array[] = []
  const tasks: Array<() => void> = []
  const b = new FrameBatcher({ sink: (x) => { writes.push(x) }, batchBytes, defer: (t) => { tasks.push(t) } })
  return { b, writes, run: () => { for (const t of tasks.splice(0)) t() }, scheduled: () => tasks.length }
}

describe('FrameBatcher', () => {
  it('schedules one deferred flush for many frames, and writes them as one batch', () => {
    const { b, writes, run, scheduled } = setup(1024)
    const frames: Frame[] = Array.from({ length: 10 }, (_, i) => ({ type: FrameType.ping, token: i }))
    for (const f of frames) b.push(f)
    expect(scheduled()).toBe(1)
    expect(writes).toEqual([])
    run()
    expect(writes).toEqual([encodeFrames(frames)])
    expect(b.pending).toBe(0)
  })

  it('flushes at once when a batch is full, keeping frame order across batches', () => {
    const { b, writes, run } = setup(27) // three 9-byte PINGs fill a batch
    const frames: Frame[] = Array.from({ length: 7 }, (_, i) => ({ type: FrameType.ping, token: i }))
    for (const f of frames) b.push(f)
    expect(writes.map((w) => w.length)).toEqual([27, 27])
    run()
    expect(writes.map((w) => w.length)).toEqual([27, 27, 9])
    const all = new Uint8Array(63)
    let at = 0
    for (const w of writes) { all.set(w, at); at += w.length }
    expect(all).toEqual(encodeFrames(frames))
  })

  it('a frame larger than a batch goes alone, after what was queued before it', () => {
    const { b, writes } = setup(32)
    b.push({ type: FrameType.ping, token: 1 })
    b.pushIdPayload(FrameType.reply, 7, new Uint8Array(100).fill(3))
    expect(writes).toEqual([
      encodeFrame({ type: FrameType.ping, token: 1 }),
      encodeFrame({ type: FrameType.reply, id: 7, payload: new Uint8Array(100).fill(3) }),
    ])
  })

  it('the hot-path writers produce the same bytes as the encoder', () => {
    const { b, writes, run } = setup(4096)
    const payload = new Uint8Array([1, 2, 3, 4, 5])
    b.pushNamed(FrameType.publish, nameBytes('orders'), payload)
    b.pushIdPayload(FrameType.tunnelData, 0x01020304, payload)
    run()
    expect(writes[0]).toEqual(encodeFrames([
      { type: FrameType.publish, topic: 'orders', payload },
      { type: FrameType.tunnelData, tunnel: 0x01020304, payload },
    ]))
  })

  it('pushRaw copies (the caller may reuse its buffer); pushOwned keeps the caller\'s bytes', () => {
    const { b, writes, run } = setup(1024)
    const raw = encodeFrame({ type: FrameType.ping, token: 5 })
    b.pushRaw(raw)
    raw.fill(0)
    run()
    expect(writes[0]).toEqual(encodeFrame({ type: FrameType.ping, token: 5 }))
    const owned = encodeFrame({ type: FrameType.pong, token: 6 })
    b.pushOwned(owned)
    expect(writes[1]).toBe(owned)
  })

  it('a batch filling at most half its buffer leaves as a copy of its bytes and the buffer is kept; a fuller one leaves as the buffer', () => {
    const allocs: number[] = []
    const writes: Uint8Array[] = []
    const tasks: Array<() => void> = []
    const b = new FrameBatcher({ sink: (x) => { writes.push(x) }, batchBytes: 1000, alloc: (n) => { allocs.push(n); return new Uint8Array(n) }, defer: (t) => { tasks.push(t) } })
    const run = (): void => { for (const t of tasks.splice(0)) t() }
    const payload = (n: number): Uint8Array => new Uint8Array(n).fill(7)
    b.pushIdPayload(FrameType.reply, 1, payload(480)) // 489 bytes: under half
    run()
    b.pushIdPayload(FrameType.reply, 2, payload(480))
    run()
    expect(allocs).toEqual([1000, 489, 489]) // one batch buffer, reused
    expect(writes.map((w) => [w.length, w.buffer.byteLength])).toEqual([[489, 489], [489, 489]])
    b.pushIdPayload(FrameType.reply, 3, payload(600)) // 609 bytes: over half
    run()
    expect(writes[2]!.length).toBe(609)
    expect(writes[2]!.buffer.byteLength).toBe(1000) // handed over, not copied
    expect(writes[2]).toEqual(encodeFrame({ type: FrameType.reply, id: 3, payload: payload(600) }))
    b.pushIdPayload(FrameType.reply, 4, payload(10))
    run()
    expect(allocs).toEqual([1000, 489, 489, 1000, 19]) // a new batch buffer after the handover
  })

  it('discard() forgets what was queued', () => {
    const { b, writes, run } = setup(1024)
    b.push({ type: FrameType.ping, token: 1 })
    b.discard()
    run()
    expect(writes).toEqual([])
  })
})
