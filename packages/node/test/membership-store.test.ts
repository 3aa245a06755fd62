// The membership directory (packages/node/src/directory/membership-store.ts) as a CRDT: any
// order and any repetition of the same deltas and notes gives the same directory (views and
// digest equal), a higher version refutes a verdict, and deltas that skip a version wait for
// the whole entry instead of being half-applied.
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Liveness, type Delta, type StatusNote } from '@herald/wire'
import { MembershipStore, diffData, toDelta } from '../src/directory/membership-store.js'
import type { NodeData } from '../src/directory/membership-types.js'

const params = { numRuns: 300, seed: process.env['FC_SEED'] !== undefined ? Number(process.env['FC_SEED']) : 0x4d53_5452 }
const NOW = 1_800_000_000_000

const nodes = ['n1', 'n2', 'n3', 'n4']
const nameArb = fc.constantFrom('db', 'thumbs', 'orders', 'a.b')

/** Per node, a history of entries at versions 1..k: the deltas a relay would publish. */
const historyArb = fc.array(
  fc.record({ clusters: fc.dictionary(nameArb, fc.integer({ min: 1, max: 3 }), { maxKeys: 3 }), topics: fc.uniqueArray(nameArb, { maxLength: 3 }) }),
  { minLength: 1, maxLength: 4 },
)

function dataOf(h: { clusters: Record<string, number>; topics: string[] }, node: string): NodeData {
  return { addrs: [`/ip4/10.0.0.1/tcp/1/p2p/${node}`], clusters: new Map(Object.entries(h.clusters)), topics: new Set(h.topics) }
}

/** Every message a relay might receive about the four nodes: whole entries, chained deltas, notes. */
const noteListArb: fc.Arbitrary<StatusNote[]> = fc.array(fc.record({
  node: fc.constantFrom(...nodes), version: fc.integer({ min: 1, max: 5 }), status: fc.constantFrom(Liveness.suspect, Liveness.dead), from: fc.constantFrom(...nodes),
}), { maxLength: 6 })
const messagesArb = fc.tuple(historyArb, historyArb, historyArb, historyArb, noteListArb).map(([h1, h2, h3, h4, notes]) => {
  const msgs: Array<{ d: Delta } | { n: StatusNote }> = []
  for (const [k, hist] of [h1, h2, h3, h4].entries()) {
    const node = nodes[k]!
    let prev: NodeData | undefined
    hist.forEach((h, i) => {
      const data = dataOf(h, node)
      msgs.push({ d: toDelta(node, i + 1, data) })
      if (prev !== undefined) msgs.push({ d: diffData(node, i, i + 1, prev, data) })
      prev = data
    })
  }
  for (const n of notes) msgs.push({ n })
  return msgs
})

function applyAll(msgs: ReadonlyArray<{ d: Delta } | { n: StatusNote }>): MembershipStore {
  const s = new MembershipStore({ maxNodes: 100, buckets: 16 })
  // Chained deltas may arrive before their base: a relay pulls the whole entry then, which
  // here is one of the whole-entry messages; so apply twice (the second pass finds the bases).
  for (let pass = 0; pass < 2; pass++) {
    for (const m of msgs) {
      if ('d' in m) s.applyDelta(m.d, NOW)
      else s.applyNote(m.n, NOW)
    }
  }
  return s
}

function summary(s: MembershipStore): string {
  return JSON.stringify([...s.entries()].map((e) => [e.node, e.version, e.liveness, e.data === undefined ? null : [[...e.data.clusters].sort(), [...e.data.topics].sort()]]).sort())
}

describe('membership directory (CRDT)', () => {
  it('any order and repetition of the same messages gives the same directory and digest', () => {
    fc.assert(fc.property(messagesArb, fc.nat(), (msgs, seed) => {
      const a = applyAll(msgs)
      const shuffled = [...msgs]
      let x = seed
      for (let i = shuffled.length - 1; i > 0; i--) {
        x = (x * 1103515245 + 12345) >>> 0
        const j = x % (i + 1)
        ;[shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!]
      }
      const b = applyAll([...shuffled, ...shuffled.slice(0, 3)])
      expect(summary(b)).toBe(summary(a))
      expect([...b.digest()]).toEqual([...a.digest()])
      expect(b.view().sort()).toEqual(a.view().sort())
    }), params)
  })

  it('the newest entry wins, whatever came first', () => {
    fc.assert(fc.property(messagesArb, (msgs) => {
      const s = applyAll(msgs)
      for (const node of nodes) {
        const newest = Math.max(0, ...msgs.filter((m) => 'd' in m && m.d.node === node).map((m) => ('d' in m ? m.d.version : 0)))
        expect(s.versionOf(node)).toBe(newest)
      }
    }), params)
  })

  it('a dead note takes a relay out of the view; a higher version brings it back (refutation)', () => {
    const s = new MembershipStore({ maxNodes: 10, buckets: 8 })
    const data: NodeData = { addrs: [], clusters: new Map([['db', 1]]), topics: new Set() }
    expect(s.applyDelta(toDelta('x', 5, data), NOW)).toBe('new')
    expect(s.inView('x')).toBe(true)
    expect(s.applyNote({ node: 'x', version: 5, status: Liveness.dead, from: 'y' }, NOW)).toBe('new')
    expect(s.inView('x')).toBe(false)
    // An old alive entry does not resurrect it; a newer one does.
    expect(s.applyDelta(toDelta('x', 5, data), NOW)).toBe('dup')
    expect(s.inView('x')).toBe(false)
    expect(s.applyDelta({ node: 'x', base: 5, version: 6 }, NOW)).toBe('new')
    expect(s.inView('x')).toBe(true)
    expect(s.dataOf('x')?.clusters.get('db')).toBe(1)
  })

  it('a relay dead at a newer version than a delta stays out of the view, and its data is not reported', () => {
    const seen: string[] = []
    const s = new MembershipStore({ maxNodes: 10, buckets: 8, listener: { data: (node) => seen.push(node) } })
    const data: NodeData = { addrs: [], clusters: new Map([['svc', 100]]), topics: new Set() }
    s.applyDelta(toDelta('x', 5, data), NOW)
    expect(seen).toEqual(['x'])
    // A verdict about version 9 (newer than anything held), then deltas up to it: still dead.
    expect(s.applyNote({ node: 'x', version: 9, status: Liveness.dead, from: 'y' }, NOW)).toBe('new')
    expect(s.applyDelta(toDelta('x', 7, data), NOW)).toBe('new')
    expect(s.inView('x')).toBe(false)
    expect(seen).toEqual(['x'])
    // Past the verdict's version it is alive again, and reported.
    expect(s.applyDelta(toDelta('x', 10, data), NOW)).toBe('new')
    expect(s.inView('x')).toBe(true)
    expect(seen).toEqual(['x', 'x'])
  })

  it('a delta whose base we lack is not applied (gap) until the whole entry arrives', () => {
    const s = new MembershipStore({ maxNodes: 10, buckets: 8 })
    const v1: NodeData = { addrs: [], clusters: new Map([['db', 1]]), topics: new Set() }
    const v2: NodeData = { addrs: [], clusters: new Map([['db', 2]]), topics: new Set(['t']) }
    const v3: NodeData = { addrs: [], clusters: new Map(), topics: new Set(['t']) }
    s.applyDelta(toDelta('x', 1, v1), NOW)
    expect(s.applyDelta(diffData('x', 2, 3, v2, v3), NOW)).toBe('gap')
    expect(s.dataOf('x')?.clusters.get('db')).toBe(1)
    expect(s.applyDelta(toDelta('x', 3, v3), NOW)).toBe('new')
    expect(s.dataOf('x')?.clusters.size).toBe(0)
    expect([...s.dataOf('x')!.topics]).toEqual(['t'])
  })

  it('stops at maxNodes: a flood of forged relays cannot grow the directory without bound', () => {
    const s = new MembershipStore({ maxNodes: 50, buckets: 8 })
    let refused = 0
    for (let i = 0; i < 1000; i++) if (s.applyDelta(toDelta(`forged-${i}`, 1, { addrs: [], clusters: new Map(), topics: new Set() }), NOW) === 'full') refused++
    expect(s.count).toBe(50)
    expect(refused).toBe(950)
  })

  it('forgets dead entries after the tombstone time, and only those', () => {
    const s = new MembershipStore({ maxNodes: 10, buckets: 8 })
    const d: NodeData = { addrs: [], clusters: new Map(), topics: new Set() }
    s.applyDelta(toDelta('dead', 1, d), NOW)
    s.applyDelta(toDelta('live', 1, d), NOW)
    s.applyNote({ node: 'dead', version: 1, status: Liveness.dead, from: 'live' }, NOW)
    expect(s.sweep(NOW + 59_000, 60_000, 'self')).toBe(0)
    expect(s.sweep(NOW + 61_000, 60_000, 'self')).toBe(1)
    expect(s.has('dead')).toBe(false)
    expect(s.has('live')).toBe(true)
  })
})
