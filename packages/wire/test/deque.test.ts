import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Deque } from '../src/index.js'

describe('Deque', () => {
  it('behaves like an array queue under any mix of pushes and shifts', () => {
    fc.assert(fc.property(fc.array(fc.oneof(fc.integer(), fc.constant(null)), { maxLength: 300 }), (ops) => {
      const d = new Deque<number>()
      const model: number[] = []
      for (const op of ops) {
        if (op === null) expect(d.shift()).toBe(model.shift())
        else { expect(d.push(op)).toBe(true); model.push(op) }
        expect(d.length).toBe(model.length)
        expect(d.peek()).toBe(model[0])
      }
      expect([...d]).toEqual(model)
    }))
  })

  it('refuses items past maxItems or maxBytes, and frees bytes as items leave', () => {
    const d = new Deque<Uint8Array>({ maxItems: 3, maxBytes: 10, sizeOf: (b) => b.length })
    expect(d.push(new Uint8Array(4))).toBe(true)
    expect(d.push(new Uint8Array(4))).toBe(true)
    expect(d.push(new Uint8Array(3))).toBe(false) // 11 bytes
    expect(d.push(new Uint8Array(2))).toBe(true)
    expect(d.push(new Uint8Array(0))).toBe(false) // a 4th item
    expect(d.bytes).toBe(10)
    d.shift()
    expect(d.bytes).toBe(6)
    expect(d.fits(4)).toBe(true)
    expect(d.fits(5)).toBe(false)
    d.clear()
    expect([d.length, d.bytes]).toEqual([0, 0])
  })
})
