// FrameChannel: the I/O-free connection core every connection class wraps (decoder, batcher,
// held writes while the transport is backed up, and the error policy).
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  ErrorCode, FrameChannel, FrameType, WireError, encodeFrame, encodeFrames, parseFrameAt, type Frame, type FrameSink,
} from '../src/index.js'
import { frameArb } from './arbitraries.js'

/** A sink that records what it was given and answers `write` with `ok()`. */
function recordingSink(ok: () => boolean = () => true): FrameSink & { writes: Uint8Array[]; buffered: number } {
  const writes: Uint8Array[] = []
  return { writes, buffered: 0, write(b) { writes.push(b); return ok() } }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

/** A channel whose deferred flushes run only when the test says so. */
function channel(sink: FrameSink, extra: Partial<ConstructorParameters<typeof FrameChannel>[0]> = {}) {
  const frames: Frame[] = []
  const errors: Array<[number, string]> = []
  const tasks: Array<() => void> = []
  let drains = 0
  const ch = new FrameChannel({
    sink,
    onFrame: (type, buf, start, end) => { frames.push(parseFrameAt(type, buf, start, end)) },
    onError: (code, message) => { errors.push([code, message]) },
    onDrain: () => { drains++ },
    defer: (t) => { tasks.push(t) },
    ...extra,
  })
  const runDeferred = (): void => { for (const t of tasks.splice(0)) t() }
  return { ch, frames, errors, runDeferred, drains: () => drains }
}

describe('FrameChannel: reading', () => {
  it('delivers every frame of any chunking, in order, and counts them', () => {
    fc.assert(fc.property(fc.array(frameArb, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 12 }), (list, cuts) => {
      const bytes = encodeFrames(list)
      const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b)
      const { ch, frames, errors } = channel(recordingSink())
      let prev = 0
      let completed = 0
      for (const p of [...points, bytes.length]) {
        completed += ch.receive(bytes.subarray(prev, p))
        prev = p
      }
      expect(errors).toEqual([])
      expect(frames).toEqual(list)
      expect(completed).toBe(list.length)
      expect(ch.framesIn).toBe(list.length)
      expect(ch.bytesIn).toBe(bytes.length)
      expect(ch.partialBytes).toBe(0)
    }), { numRuns: 200 })
  })

  it('malformed input: reports the WireError once, then reads nothing more', () => {
    const { ch, frames, errors } = channel(recordingSink())
    const good = encodeFrame({ type: FrameType.ping, token: 1 })
    const bad = new Uint8Array([0, 0, 0, 1, 0x7e]) // a complete frame of an unknown type
    ch.receive(concat([good, bad, good]))
    ch.receive(good)
    expect(frames).toEqual([{ type: FrameType.ping, token: 1 }])
    expect(errors).toEqual([[ErrorCode.protocol, 'unknown frame type 0x7e']])
  })

  it('a frame over maxFrameBytes is `tooLarge` before its body arrives', () => {
    const { ch, errors } = channel(recordingSink(), { maxFrameBytes: 100 })
    ch.receive(new Uint8Array([0, 0, 0, 101]))
    expect(errors.map((e) => e[0])).toEqual([ErrorCode.tooLarge])
  })

  it('an error thrown by onFrame is reported as an internal protocol error; a WireError keeps its code', () => {
    const thrown: unknown[] = [new Error('boom'), new WireError(ErrorCode.limit, 'too many')]
    const seen: Array<[number, string]> = []
    for (const err of thrown) {
      const ch = new FrameChannel({
        sink: recordingSink(),
        onFrame: () => { throw err },
        onError: (code, message) => { seen.push([code, message]) },
      })
      ch.receive(encodeFrame({ type: FrameType.pong, token: 2 }))
    }
    expect(seen).toEqual([[ErrorCode.protocol, 'internal error: boom'], [ErrorCode.limit, 'too many']])
  })

  it('stops reading the rest of a chunk once the owner closes it from onFrame', () => {
    let n = 0
    const ch: FrameChannel = new FrameChannel({
      sink: recordingSink(),
      onFrame: () => { n++; ch.close() },
      onError: () => {},
    })
    ch.receive(encodeFrames([{ type: FrameType.ping, token: 1 }, { type: FrameType.ping, token: 2 }]))
    expect(n).toBe(1)
  })
})

describe('FrameChannel: writing', () => {
  it('coalesces the frames of one turn into one write, in order', () => {
    const sink = recordingSink()
    const { ch, runDeferred } = channel(sink)
    const list: Frame[] = [{ type: FrameType.ping, token: 1 }, { type: FrameType.pong, token: 2 }, { type: FrameType.ping, token: 3 }]
    for (const f of list) ch.send(f)
    expect(sink.writes).toHaveLength(0)
    expect(ch.pending).toBe(encodeFrames(list).length)
    runDeferred()
    expect(sink.writes).toHaveLength(1)
    expect(sink.writes[0]).toEqual(encodeFrames(list))
    expect(ch.bytesOut).toBe(encodeFrames(list).length)
  })

  it('holds batches while the sink is backed up, then sends them in order on drained()', () => {
    let accept = false
    const sink = recordingSink(() => accept)
    const { ch, drains } = channel(sink)
    const a = encodeFrame({ type: FrameType.ping, token: 1 })
    const b = encodeFrame({ type: FrameType.ping, token: 2 })
    const c = encodeFrame({ type: FrameType.ping, token: 3 })
    ch.sendOwned(a) // taken, but the sink says it is full
    ch.sendOwned(b)
    ch.sendOwned(c)
    expect(sink.writes).toEqual([a])
    expect(ch.pending).toBe(b.length + c.length)
    expect(ch.idle).toBe(false)
    accept = true
    ch.drained()
    expect(sink.writes).toEqual([a, b, c])
    expect(ch.idle).toBe(true)
    expect(drains()).toBe(1)
  })

  it('sendUrgent: while batches are held, urgent frames leave first, in their own order', () => {
    let accept = false
    const sink = recordingSink(() => accept)
    const { ch, runDeferred } = channel(sink)
    const bulk = [1, 2, 3].map((n) => encodeFrame({ type: FrameType.ping, token: n }))
    ch.sendOwned(bulk[0]!) // taken, but the sink is full from now on
    ch.sendOwned(bulk[1]!)
    ch.sendOwned(bulk[2]!)
    const urgent: Frame[] = [{ type: FrameType.pong, token: 10 }, { type: FrameType.pong, token: 11 }]
    for (const f of urgent) ch.sendUrgent(f)
    runDeferred() // nothing batched: the urgent frames bypassed the batcher
    expect(sink.writes).toEqual([bulk[0]])
    expect(ch.pending).toBe(bulk[1]!.length + bulk[2]!.length + encodeFrames(urgent).length)
    expect(ch.idle).toBe(false)
    accept = true
    ch.drained()
    expect(sink.writes).toEqual([bulk[0], ...urgent.map((f) => encodeFrame(f)), bulk[1], bulk[2]])
    expect(ch.idle).toBe(true)
  })

  it('sendUrgent: with the transport writable, it is batched in order like any frame', () => {
    const sink = recordingSink()
    const { ch, runDeferred } = channel(sink)
    const list: Frame[] = [{ type: FrameType.ping, token: 1 }, { type: FrameType.pong, token: 2 }]
    ch.send(list[0]!)
    ch.sendUrgent(list[1]!)
    runDeferred()
    expect(sink.writes).toEqual([encodeFrames(list)])
  })

  it('startHeld: nothing reaches the sink before the first drained()', () => {
    const sink = recordingSink()
    const { ch } = channel(sink, { startHeld: true })
    ch.sendOwned(encodeFrame({ type: FrameType.ping, token: 1 }))
    expect(sink.writes).toHaveLength(0)
    ch.drained()
    expect(sink.writes).toHaveLength(1)
  })

  it('offerRaw sends only below the limit of pending bytes', () => {
    const sink = recordingSink()
    const { ch, runDeferred } = channel(sink)
    const f = encodeFrame({ type: FrameType.ping, token: 1 })
    sink.buffered = 100
    expect(ch.offerRaw(f, 100 + f.length - 1)).toBe(true) // 100 pending before it
    expect(ch.offerRaw(f, 100 + f.length)).toBe(true) // 100 + 9 pending: at the limit, still fine
    expect(ch.offerRaw(f, 100 + f.length)).toBe(false) // 100 + 18 pending: over it
    runDeferred()
    expect(sink.writes).toEqual([encodeFrames([{ type: FrameType.ping, token: 1 }, { type: FrameType.ping, token: 1 }])])
    ch.close()
    expect(ch.offerRaw(f, Infinity)).toBe(false)
  })

  it('pending counts what the transport still holds', () => {
    const sink = recordingSink()
    const { ch } = channel(sink)
    sink.buffered = 1000
    ch.send({ type: FrameType.ping, token: 1 })
    expect(ch.pending).toBe(1000 + encodeFrame({ type: FrameType.ping, token: 1 }).length)
  })

  it('close() drops what is batched or held, and ignores later sends', () => {
    const sink = recordingSink(() => false)
    const { ch, runDeferred } = channel(sink)
    ch.sendOwned(new Uint8Array(5))
    ch.sendOwned(new Uint8Array(6))
    ch.send({ type: FrameType.ping, token: 1 })
    ch.close()
    ch.send({ type: FrameType.ping, token: 2 })
    runDeferred()
    ch.drained()
    expect(sink.writes.map((w) => w.length)).toEqual([5])
    expect(ch.pending).toBe(0)
    expect(ch.closed).toBe(true)
  })
})
