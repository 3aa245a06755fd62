import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { OutQueue } from '../src/clients/out-queue.js'

function drain(q: OutQueue): Uint8Array {
  const parts: Uint8Array[] = []
  for (let b = q.take(); b !== undefined; b = q.take()) parts.push(b)
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}

describe('OutQueue', () => {
  it('gives back exactly the frames it accepted, in order, whatever their sizes', () => {
    fc.assert(fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 70_000 }), { maxLength: 40 }), fc.integer({ min: 1, max: 1 << 22 }), (frames, limit) => {
      const q = new OutQueue(limit)
      const kept: number[] = []
      let bytes = 0
      frames.forEach((f, i) => {
        if (q.offer(f)) { kept.push(i); bytes += f.length }
        expect(q.bytes).toBe(bytes)
        expect(q.bytes).toBeLessThanOrEqual(limit)
      })
      expect(q.dropped).toBe(frames.length - kept.length)
      const expected = new Uint8Array(bytes)
      let at = 0
      for (const i of kept) { expected.set(frames[i]!, at); at += frames[i]!.length }
      expect(drain(q)).toEqual(expected)
      expect(q.bytes).toBe(0)
    }), { numRuns: 60 })
  })

  it('copies what it queues (the caller may reuse its buffer) and counts unreported drops', () => {
    const q = new OutQueue(10)
    const f = new Uint8Array([1, 2, 3])
    expect(q.offer(f)).toBe(true)
    f[0] = 9
    expect(q.offer(new Uint8Array(8))).toBe(false)
    expect(q.unreported).toBe(1)
    expect(Array.from(q.take()!)).toEqual([1, 2, 3])
    expect(q.take()).toBeUndefined()
  })
})
