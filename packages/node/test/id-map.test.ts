// IdMap: the request tables' map from u32 ids to values (routing/id-map.ts), against a Map.
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { IdMap } from '../src/routing/id-map.js'

/** Ids as the router makes them (sequential), strided (one member of several), or anywhere in u32. */
const ids = fc.oneof(
  fc.integer({ min: 1, max: 64 }),
  fc.integer({ min: 1, max: 64 }).map((i) => i * 1024),
  fc.integer({ min: 1, max: 0xffffffff }),
  fc.constantFrom(0, 1, 0xffffffff, 0x80000000),
)
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), id: ids, value: fc.integer() }),
  fc.record({ kind: fc.constant('delete' as const), id: ids }),
)

function entries(m: IdMap<number>): Array<[number, number]> {
  const out: Array<[number, number]> = []
  m.forEach((v, id) => out.push([id, v]))
  return out.sort((a, b) => a[0] - b[0])
}

describe('IdMap', () => {
  it('holds exactly what a Map would after any sequence of sets and deletes', () => {
    fc.assert(fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
      const m = new IdMap<number>()
      const ref = new Map<number, number>()
      for (const o of ops) {
        if (o.kind === 'set') {
          m.set(o.id, o.value)
          ref.set(o.id, o.value)
        } else {
          expect(m.delete(o.id)).toBe(ref.delete(o.id))
        }
        expect(m.size).toBe(ref.size)
        expect(m.get(o.id)).toBe(ref.get(o.id))
        expect(m.has(o.id)).toBe(ref.has(o.id))
      }
      expect(entries(m)).toEqual([...ref].sort((a, b) => a[0] - b[0]))
      for (const id of ref.keys()) expect(m.get(id)).toBe(ref.get(id))
      expect(m.capacity).toBeGreaterThanOrEqual(2 * (m.size - (m.has(0) ? 1 : 0)))
    }), { numRuns: 300 })
  })

  it('refuses ids outside 0 to 2^32 - 1, and never finds them', () => {
    const m = new IdMap<string>()
    for (const bad of [-1, 1.5, 2 ** 32, Number.NaN]) {
      expect(() => m.set(bad, 'x')).toThrow(RangeError)
      expect(m.has(bad)).toBe(false)
      expect(m.get(bad)).toBeUndefined()
    }
    expect(m.size).toBe(0)
  })

  it('keeps its table while one id at a time comes and goes, and resizes once, not per call, at a boundary', () => {
    const m = new IdMap<number>()
    const start = m.capacity
    for (let id = 1; id <= 10_000; id++) {
      m.set(id, id)
      if (id > 2) m.delete(id - 2)
    }
    expect(m.size).toBe(2)
    expect(m.capacity).toBe(start)
    // Around the size where the table doubles: 4 <-> 5 entries, many times.
    const b = new IdMap<number>()
    for (let id = 1; id <= 4; id++) b.set(id, id)
    const capacities = new Set<number>()
    for (let i = 0; i < 1000; i++) {
      b.set(100 + i, i)
      b.delete(100 + i)
      capacities.add(b.capacity)
    }
    expect(capacities.size).toBe(1)
    expect(b.size).toBe(4)
  })

  it('grows for many ids and gives the table back when they leave', () => {
    const m = new IdMap<number>()
    const start = m.capacity
    for (let id = 1; id <= 5000; id++) m.set(id * 7, id)
    expect(m.capacity).toBeGreaterThanOrEqual(10_000)
    for (let id = 1; id <= 5000; id++) expect(m.get(id * 7)).toBe(id)
    const snapshot = m.values()
    for (let id = 1; id <= 5000; id++) m.delete(id * 7)
    expect(snapshot).toHaveLength(5000)
    expect(m.size).toBe(0)
    expect(m.capacity).toBe(start)
    m.set(3, 3)
    m.clear()
    expect(m.size).toBe(0)
    expect(m.has(3)).toBe(false)
    expect(m.some(() => true)).toBe(false)
  })
})
