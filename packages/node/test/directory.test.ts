// The directory (packages/node/src/directory/directory.ts): the CRDT laws of mergeStates, and the
// Directory class one relay holds (merge order, tombstones, expiry, sweep, anti-entropy,
// validation of entries received from peers).
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { Directory, maxPlausibleVersion, mergeStates, newer, validEntry, type DirectoryEntry, type DirectoryState } from '../src/directory/directory.js'

const RUNS = 500
// "DIR1": reproducible; FC_SEED=<n> explores other cases (fast-check prints the seed of a failure).
const params = { numRuns: RUNS, seed: process.env["FC_SEED"] !== undefined ? Number(process.env["FC_SEED"]) : 0x4449_5231 }

// ---- arbitraries ---------------------------------------------------------------------
// Few node names and small versions, so states collide often (same node, same version,
// live against dead): the interesting cases for a lattice.

const nodeArb = fc.constantFrom('n1', 'n2', 'n3', 'n4', 'n5', 'n6')
const nameArb = fc.constantFrom('databases', 'thumbs', 'orders', 'a', 'b.c', '$x')

/** An entry built in the field order the relay uses (so JSON tie-breaks are comparable). */
function entry(node: string, version: number, dead: boolean, addrs: string[], clusters: DirectoryEntry['clusters'], topics: string[]): DirectoryEntry {
  return dead ? { node, version, dead: true, addrs: [], clusters: {}, topics: [] } : { node, version, addrs, clusters, topics }
}

const entryArb: fc.Arbitrary<DirectoryEntry> = fc
  .record({
    node: nodeArb,
    version: fc.integer({ min: 0, max: 4 }),
    dead: fc.boolean(),
    addrs: fc.array(fc.constantFrom('/ip4/10.0.0.1/tcp/1', '/ip4/127.0.0.1/tcp/2', '/ip6/::1/tcp/3'), { maxLength: 2 }),
    clusters: fc.dictionary(nameArb, fc.record({ members: fc.nat(3), load: fc.nat(5) }), { maxKeys: 3 }),
    topics: fc.uniqueArray(nameArb, { maxLength: 3 }),
  })
  .map((r) => entry(r.node, r.version, r.dead, r.addrs, r.clusters, r.topics))

/**
 * Entries that respect the single-writer rule: a node's content is a function of its
 * version (one writer never writes two contents under one version). The digest relies on
 * it: it carries only (version, liveness), not content.
 */
const writerEntryArb: fc.Arbitrary<DirectoryEntry> = fc
  .record({ node: nodeArb, version: fc.integer({ min: 0, max: 4 }), dead: fc.boolean() })
  .map(({ node, version, dead }) => {
    const k = node.charCodeAt(1) * 7 + version
    return entry(node, version, dead, [`/ip4/10.0.0.${k}/tcp/1`], k % 3 === 0 ? {} : { [`c${k % 4}`]: { members: k % 3, load: k % 5 } }, k % 2 === 0 ? [] : [`t${k % 3}`])
  })

/** A state: node -> entry (a later entry of the same node replaces an earlier one). */
const stateArb: fc.Arbitrary<Map<string, DirectoryEntry>> = fc
  .array(entryArb, { maxLength: 8 })
  .map((es) => new Map(es.map((e) => [e.node, e] as const)))

/** Canonical, order-independent form of a state for deep comparison. */
function canon(s: DirectoryState): Array<[string, DirectoryEntry]> {
  return [...s.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
}

/** The rank the digest encodes: version, then dead above live. */
const rank = (e: DirectoryEntry): number => e.version * 2 + (e.dead === true ? 1 : 0)

// ---- the CRDT laws -------------------------------------------------------------------

describe('mergeStates is a join (state-based CRDT)', () => {
  it('is commutative: a ⊔ b = b ⊔ a', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        expect(canon(mergeStates(a, b))).toEqual(canon(mergeStates(b, a)))
      }),
      params,
    )
  })

  it('is associative: (a ⊔ b) ⊔ c = a ⊔ (b ⊔ c)', () => {
    fc.assert(
      fc.property(stateArb, stateArb, stateArb, (a, b, c) => {
        expect(canon(mergeStates(mergeStates(a, b), c))).toEqual(canon(mergeStates(a, mergeStates(b, c))))
      }),
      params,
    )
  })

  it('is idempotent: a ⊔ a = a', () => {
    fc.assert(
      fc.property(stateArb, (a) => {
        expect(canon(mergeStates(a, a))).toEqual(canon(a))
      }),
      params,
    )
  })

  it('is an upper bound: (a ⊔ b) ⊔ a = a ⊔ b, and every node of a and b is kept', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const ab = mergeStates(a, b)
        expect(canon(mergeStates(ab, a))).toEqual(canon(ab))
        expect(canon(mergeStates(ab, b))).toEqual(canon(ab))
        expect(new Set(ab.keys())).toEqual(new Set([...a.keys(), ...b.keys()]))
        for (const [node, e] of ab) {
          for (const side of [a, b]) {
            const x = side.get(node)
            if (x !== undefined) expect(rank(e)).toBeGreaterThanOrEqual(rank(x))
          }
        }
      }),
      params,
    )
  })

  it('does not modify its inputs', () => {
    fc.assert(
      fc.property(stateArb, stateArb, (a, b) => {
        const before = [canon(a), canon(b)]
        mergeStates(a, b)
        expect([canon(a), canon(b)]).toEqual(before)
      }),
      { ...params, numRuns: 100 },
    )
  })

  it('newer() is a total order on one node: the higher version wins, then the tombstone', () => {
    fc.assert(
      fc.property(entryArb, entryArb, (x, y) => {
        const a = { ...x, node: 'n' }
        const b = { ...y, node: 'n' }
        const w = newer(a, b)
        expect(w === a || w === b).toBe(true)
        expect(newer(b, a)).toEqual(w)
        expect(rank(w)).toBe(Math.max(rank(a), rank(b)))
      }),
      params,
    )
  })
})

// ---- the Directory class -------------------------------------------------------------

function clock(start = 1_000_000): { now: () => number; advance(ms: number): void; set(t: number): void } {
  let t = start
  return { now: () => t, advance: (ms) => { t += ms }, set: (v) => { t = v } }
}

function dir(c = clock(), init: Partial<{ self: string; expiryMs: number; tombstoneMs: number }> = {}): Directory {
  return new Directory({ self: init.self ?? 'me', expiryMs: init.expiryMs ?? 2_500, tombstoneMs: init.tombstoneMs ?? 60_000, now: c.now })
}

const live = (node: string, version: number, clusters: DirectoryEntry['clusters'] = {}, topics: string[] = []): DirectoryEntry =>
  ({ node, version, addrs: [`/ip4/127.0.0.1/tcp/4001/p2p/${node}`], clusters, topics })
const tomb = (node: string, version: number): DirectoryEntry => ({ node, version, dead: true, addrs: [], clusters: {}, topics: [] })
const aliveNodes = (d: Directory): string[] => d.alive().map((e) => e.node).sort()

describe('Directory', () => {
  it('merge keeps the newer version, whatever the arrival order', () => {
    const d = dir()
    expect(d.merge(live('a', 5, { db: { members: 1, load: 0 } }))).toBe(true)
    expect(d.merge(live('a', 3, { old: { members: 9, load: 9 } }))).toBe(false) // older: ignored
    expect(d.get('a')?.version).toBe(5)
    expect(d.get('a')?.clusters).toEqual({ db: { members: 1, load: 0 } })
    expect(d.merge(live('a', 5, { db: { members: 1, load: 0 } }))).toBe(false) // same: no change, nothing to pass on
    expect(d.merge(live('a', 7, { db: { members: 2, load: 1 } }))).toBe(true)
    expect(d.get('a')?.clusters).toEqual({ db: { members: 2, load: 1 } })
  })

  it('a tombstone wins at equal version, and an older live entry does not revive it', () => {
    const d = dir()
    d.merge(live('a', 5))
    expect(d.merge(tomb('a', 5))).toBe(true)
    expect(d.isAlive('a')).toBe(false)
    expect(aliveNodes(d)).toEqual([])
    expect(d.merge(live('a', 5))).toBe(false) // same version, live: the tombstone stays
    expect(d.merge(live('a', 4))).toBe(false)
    expect(d.get('a')?.dead).toBe(true)
    // The other arrival order ends the same way.
    const e = dir()
    e.merge(tomb('a', 5))
    expect(e.merge(live('a', 5))).toBe(false)
    expect(e.isAlive('a')).toBe(false)
  })

  it('a newer version revives a tombstoned node', () => {
    const d = dir()
    d.merge(live('a', 5))
    expect(d.kill('a')).toEqual(tomb('a', 5))
    expect(d.kill('a')).toBeUndefined() // already dead: nothing to pass on
    expect(d.isAlive('a')).toBe(false)
    expect(d.merge(live('a', 6, { db: { members: 1, load: 0 } }))).toBe(true)
    expect(d.isAlive('a')).toBe(true)
    expect(aliveNodes(d)).toEqual(['a'])
    expect(d.get('a')?.clusters).toEqual({ db: { members: 1, load: 0 } })
  })

  it('never kills itself and ignores others’ word about itself once it has its own entry', () => {
    const d = dir()
    d.setSelf(live('me', 10))
    expect(d.kill('me')).toBeUndefined()
    expect(d.merge(tomb('me', 99))).toBe(false)
    expect(d.merge(live('me', 99))).toBe(false)
    expect(d.get('me')?.version).toBe(10)
    expect(d.kill('unknown')).toBeUndefined()
  })

  it('expiry: a node not refreshed for expiryMs leaves alive(); a refresh brings it back; self never expires', () => {
    const c = clock()
    const d = dir(c, { expiryMs: 2_500 })
    d.setSelf(live('me', 1))
    d.merge(live('a', 1))
    d.merge(live('b', 1))
    expect(aliveNodes(d)).toEqual(['a', 'b', 'me'])
    c.advance(2_000)
    d.merge(live('b', 2)) // b's heartbeat; a misses its own
    c.advance(500) // a: exactly expiryMs since its last change: still in
    expect(aliveNodes(d)).toEqual(['a', 'b', 'me'])
    expect(d.isAlive('a')).toBe(true)
    c.advance(1)
    expect(aliveNodes(d)).toEqual(['b', 'me'])
    expect(d.isAlive('a')).toBe(false)
    expect(d.isAlive('me')).toBe(true)
    // A re-sent copy of the same version is no refresh: only a new version counts.
    d.merge(live('a', 1))
    expect(d.isAlive('a')).toBe(false)
    d.merge(live('a', 2))
    expect(aliveNodes(d)).toEqual(['a', 'b', 'me'])
    c.advance(100_000)
    expect(aliveNodes(d)).toEqual(['me'])
    // Expired entries are still gossiped (all()): expiry is a local judgement, not a tombstone.
    expect(d.all().map((e) => e.node).sort()).toEqual(['a', 'b', 'me'])
  })

  it('sweep turns entries not refreshed for tombstoneMs into tombstones, and forgets tombstones after tombstoneMs more', () => {
    const c = clock()
    const d = dir(c, { expiryMs: 2_500, tombstoneMs: 60_000 })
    d.setSelf(live('me', 1))
    d.merge(live('a', 1))
    d.merge(live('b', 1))
    d.merge(live('c', 1))
    d.kill('a')
    c.advance(30_000)
    d.merge(tomb('b', 1))
    c.advance(30_000) // a's tombstone and c's entry are exactly tombstoneMs old: kept as they are
    d.sweep()
    expect(d.get('a')?.dead).toBe(true)
    expect(d.get('c')?.dead).toBeUndefined()
    c.advance(1)
    d.sweep()
    expect(d.get('a')).toBeUndefined()
    expect(d.get('b')?.dead).toBe(true) // 30 s old
    expect(d.get('c')?.dead).toBe(true) // a relay long gone: tombstoned, so a late copy is no ghost
    expect(d.merge(live('c', 1))).toBe(false)
    expect(d.get('me')?.dead).toBeUndefined()
    c.advance(30_000)
    d.sweep()
    expect(d.get('b')).toBeUndefined()
    c.advance(30_001)
    d.sweep()
    expect(d.all().map((e) => e.node).sort()).toEqual(['me'])
    // Once forgotten, the node's old live entry is news again (the price of forgetting).
    expect(d.merge(live('a', 1))).toBe(true)
  })

  it('digest encodes version and liveness; newerThan(digest) returns exactly the entries newer than the digest', () => {
    const digestArb = fc.dictionary(nodeArb, fc.integer({ min: 0, max: 10 }), { maxKeys: 6 })
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 10 }), digestArb, (entries, digest) => {
        const d = dir(clock(), { self: 'nobody' })
        for (const e of entries) d.merge(e)
        const state = d.state()
        const got = d.newerThan(digest).map((e) => e.node).sort()
        const want = [...state.values()].filter((e) => digest[e.node] === undefined || rank(e) > digest[e.node]!).map((e) => e.node).sort()
        expect(got).toEqual(want)
        // Its own digest: nothing is newer than itself.
        expect(d.newerThan(d.digest())).toEqual([])
        expect(Object.keys(d.digest()).sort()).toEqual([...state.keys()].sort())
        for (const [node, e] of state) expect(d.digest()[node]).toBe(rank(e))
      }),
      params,
    )
  })

  it('gossip passes on fresh entries and tombstones, never expired (stale) live entries', () => {
    const c = clock()
    const d = dir(c, { expiryMs: 2_500 })
    d.setSelf(live('me', 1))
    d.merge(live('old', 1))
    d.merge(live('dead', 1))
    d.kill('dead')
    c.advance(3_000)
    d.merge(live('new', 1))
    expect(d.gossipable().map((e) => e.node).sort()).toEqual(['dead', 'me', 'new'])
    expect(d.newerThan({}).map((e) => e.node).sort()).toEqual(['dead', 'me', 'new'])
    expect(d.all().map((e) => e.node).sort()).toEqual(['dead', 'me', 'new', 'old'])
  })

  it('anti-entropy: B merging A.newerThan(B.digest()) reaches A ⊔ B', () => {
    fc.assert(
      fc.property(fc.array(writerEntryArb, { maxLength: 10 }), fc.array(writerEntryArb, { maxLength: 10 }), (ea, eb) => {
        const a = dir(clock(), { self: 'A' })
        const b = dir(clock(), { self: 'B' })
        for (const e of ea) a.merge(e)
        for (const e of eb) b.merge(e)
        const want = mergeStates(a.state(), b.state())
        for (const e of a.newerThan(b.digest())) b.merge(e)
        for (const e of b.newerThan(a.digest())) a.merge(e)
        expect(canon(b.state())).toEqual(canon(want))
        expect(canon(a.state())).toEqual(canon(want))
      }),
      params,
    )
  })

  it('merging entries one by one in any order converges to mergeStates of all of them', () => {
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 12 }).chain((es) => fc.tuple(fc.constant(es), fc.shuffledSubarray(es, { minLength: es.length, maxLength: es.length }))), ([es, shuffled]) => {
        const x = dir(clock(), { self: 'nobody' })
        const y = dir(clock(), { self: 'nobody' })
        for (const e of es) x.merge(e)
        for (const e of shuffled) y.merge(e)
        const want = es.reduce<Map<string, DirectoryEntry>>((s, e) => mergeStates(s, new Map([[e.node, e]])), new Map())
        expect(canon(x.state())).toEqual(canon(want))
        expect(canon(y.state())).toEqual(canon(want))
      }),
      params,
    )
  })
})

// ---- validEntry ----------------------------------------------------------------------

describe('validEntry (entries from peers are hostile input)', () => {
  const ok = (): Record<string, unknown> => ({
    node: '12D3KooWExample', version: 1_700_000_000_000_000, addrs: ['/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWExample'],
    clusters: { databases: { members: 2, load: 1 } }, topics: ['orders.created'],
  })
  const many = (n: number, f: (i: number) => string): string[] => Array.from({ length: n }, (_, i) => f(i))
  const long = (n: number): string => 'x'.repeat(n)

  it('accepts well-formed entries, tombstones and boundary sizes', () => {
    expect(validEntry(ok())).toBe(true)
    expect(validEntry({ ...ok(), dead: true, addrs: [], clusters: {}, topics: [] })).toBe(true)
    expect(validEntry({ ...ok(), version: 0 })).toBe(true)
    expect(validEntry({ ...ok(), version: Number.MAX_SAFE_INTEGER })).toBe(true)
    expect(validEntry({ ...ok(), node: long(128) })).toBe(true)
    expect(validEntry({ ...ok(), topics: [long(255)], clusters: { [long(255)]: { members: 0, load: 0 } } })).toBe(true)
    expect(validEntry({ ...ok(), addrs: many(64, (i) => `/ip4/10.0.0.${i}/tcp/1`) })).toBe(true)
    expect(validEntry({ ...ok(), addrs: [long(511)] })).toBe(true)
    expect(validEntry({ ...ok(), topics: many(10_000, (i) => `t${i}`) })).toBe(true)
  })

  it('rejects versions beyond the plausible bound (a forged far-future version would silence a relay)', () => {
    const now = 1_800_000_000_000
    const max = maxPlausibleVersion(now)
    expect(max).toBeLessThan(Number.MAX_SAFE_INTEGER / 2) // room to answer, and digest ranks (2v+1) stay exact
    expect(validEntry({ ...ok(), version: now * 1000 }, max)).toBe(true)
    expect(validEntry({ ...ok(), version: max }, max)).toBe(true)
    expect(validEntry({ ...ok(), version: max + 1 }, max)).toBe(false)
    expect(validEntry({ ...ok(), version: Number.MAX_SAFE_INTEGER }, max)).toBe(false)
  })

  it('accepts every entry the arbitraries make, after a JSON round trip (as gossip carries them)', () => {
    fc.assert(fc.property(entryArb, (e) => validEntry(JSON.parse(JSON.stringify(e)))), params)
  })

  const bad: Array<[string, unknown]> = [
    ['null', null],
    ['a string', 'entry'],
    ['a number', 42],
    ['an array', [ok()]],
    ['missing node', { ...ok(), node: undefined }],
    ['numeric node', { ...ok(), node: 7 }],
    ['empty node', { ...ok(), node: '' }],
    ['oversize node (129 chars)', { ...ok(), node: long(129) }],
    ['missing version', { ...ok(), version: undefined }],
    ['string version', { ...ok(), version: '5' }],
    ['negative version', { ...ok(), version: -1 }],
    ['fractional version', { ...ok(), version: 1.5 }],
    ['NaN version', { ...ok(), version: Number.NaN }],
    ['infinite version', { ...ok(), version: Number.POSITIVE_INFINITY }],
    ['unsafe version', { ...ok(), version: Number.MAX_SAFE_INTEGER + 1 }],
    ['dead: false', { ...ok(), dead: false }],
    ['dead: "yes"', { ...ok(), dead: 'yes' }],
    ['dead: 1', { ...ok(), dead: 1 }],
    ['addrs not an array', { ...ok(), addrs: '/ip4/1.2.3.4/tcp/1' }],
    ['addrs with a number', { ...ok(), addrs: [1] }],
    ['too many addrs (65)', { ...ok(), addrs: many(65, (i) => `/ip4/10.0.0.${i}/tcp/1`) }],
    ['oversize addr (512 chars)', { ...ok(), addrs: [long(512)] }],
    ['missing topics', { ...ok(), topics: undefined }],
    ['topics an object', { ...ok(), topics: { a: 1 } }],
    ['topic not a string', { ...ok(), topics: [3] }],
    ['empty topic', { ...ok(), topics: [''] }],
    ['oversize topic (256 chars)', { ...ok(), topics: [long(256)] }],
    ['too many topics (10,001)', { ...ok(), topics: many(10_001, (i) => `t${i}`) }],
    ['missing clusters', { ...ok(), clusters: undefined }],
    ['clusters null', { ...ok(), clusters: null }],
    ['clusters an array', { ...ok(), clusters: [{ members: 1, load: 0 }] }],
    ['clusters a string', { ...ok(), clusters: 'databases' }],
    ['empty cluster name', { ...ok(), clusters: { '': { members: 1, load: 0 } } }],
    ['oversize cluster name (256 chars)', { ...ok(), clusters: { [long(256)]: { members: 1, load: 0 } } }],
    ['too many clusters (10,001)', { ...ok(), clusters: Object.fromEntries(many(10_001, (i) => `c${i}`).map((n) => [n, { members: 1, load: 0 }])) }],
    ['cluster value null', { ...ok(), clusters: { db: null } }],
    ['cluster value a number', { ...ok(), clusters: { db: 3 } }],
    ['negative members', { ...ok(), clusters: { db: { members: -1, load: 0 } } }],
    ['negative load', { ...ok(), clusters: { db: { members: 1, load: -2 } } }],
    ['fractional members', { ...ok(), clusters: { db: { members: 0.5, load: 0 } } }],
    ['string load', { ...ok(), clusters: { db: { members: 1, load: '0' } } }],
    ['missing members', { ...ok(), clusters: { db: { load: 0 } } }],
    ['NaN load', { ...ok(), clusters: { db: { members: 1, load: Number.NaN } } }],
  ]
  it.each(bad)('rejects %s', (_what, x) => {
    expect(validEntry(x)).toBe(false)
  })

  it('rejects every single-field corruption of a valid entry (random)', () => {
    const junk = fc.oneof(
      fc.constant(null), fc.constant(undefined), fc.boolean().filter((b) => !b), fc.double({ noDefaultInfinity: false }).filter((n) => !(Number.isSafeInteger(n) && n >= 0)),
      fc.string({ maxLength: 3 }).map((s) => `${s}`), fc.constant([]), fc.constant({}),
    )
    const field = fc.constantFrom('node', 'version', 'addrs', 'clusters', 'topics', 'dead')
    fc.assert(
      fc.property(field, junk, (f, v) => {
        const x = ok()
        x[f] = v
        const expected = ((): boolean => {
          // The few junk values that are still legal for the field.
          if (f === 'dead') return v === undefined
          if (f === 'node') return typeof v === 'string' && /^[A-Za-z0-9]{1,128}$/.test(v)
          if (f === 'addrs' || f === 'topics') return Array.isArray(v)
          if (f === 'clusters') return typeof v === 'object' && v !== null && !Array.isArray(v)
          return false
        })()
        expect(validEntry(x)).toBe(expected)
      }),
      params,
    )
  })
})
