/** Slots in a new table; the table never shrinks below it. A power of two. */
const MIN_CAPACITY = 8
/** Marks an empty slot; the id 0 is kept beside the table. */
const EMPTY = 0

/**
 * A map from u32 ids (request ids: integers 0 to 2^32 - 1) to values, for the tables a request passes
 * through on its way: the router's requests, each origin's, each member's, each remote
 * relay's, and a session's pending request ids. Open addressing with linear probing in two flat arrays, deletion by backward shift
 * (no tombstones); the table doubles at half full and halves below an eighth, so adding and
 * removing one id at a time allocates nothing.
 *
 * Why not Map or Set: V8 rehashes an ordered hash table into a new one whenever it empties
 * (shrink) or its deleted entries fill it, and a long-lived table lives in the old generation,
 * so its replacements are allocated there: measured, 120-150 bytes of old-generation garbage
 * per add and delete on a table holding a request or two (what a relay's tables hold between
 * requests), which grew a relay's heap by ~2 MiB a second at 5,000 requests a second until a
 * mark-compact (docs/performance.md).
 */
export class IdMap<V> {
  private keys!: Uint32Array
  private vals!: Array<V | undefined>
  private mask!: number
  /** 32 - log2(capacity): Fibonacci hashing keeps strided ids (every other rid) apart. */
  private shift!: number
  private count = 0
  private hasZero = false
  private zero: V | undefined

  constructor() {
    this.allocate(MIN_CAPACITY)
  }

  get size(): number {
    return this.count + (this.hasZero ? 1 : 0)
  }

  /** Slots in the table (a power of two, at least 8; more than twice the size until it shrinks). */
  get capacity(): number {
    return this.keys.length
  }

  get(id: number): V | undefined {
    if (id === EMPTY) return this.zero
    const i = this.find(id)
    return i < 0 ? undefined : this.vals[i]
  }

  has(id: number): boolean {
    return id === EMPTY ? this.hasZero : this.find(id) >= 0
  }

  set(id: number, value: V): this {
    if (!(id >= 0 && id <= 0xffffffff && Math.floor(id) === id)) throw new RangeError(`an id must be an integer from 0 to 2^32 - 1, not ${id}`)
    if (id === EMPTY) {
      this.hasZero = true
      this.zero = value
      return this
    }
    const found = this.find(id)
    if (found >= 0) {
      this.vals[found] = value
      return this
    }
    if ((this.count + 1) * 2 > this.keys.length) this.resize(this.keys.length * 2)
    this.place(id, value)
    this.count++
    return this
  }

  delete(id: number): boolean {
    if (id === EMPTY) {
      const had = this.hasZero
      this.hasZero = false
      this.zero = undefined
      return had
    }
    let i = this.find(id)
    if (i < 0) return false
    const { keys, vals, mask } = this
    // Backward shift: pull each later entry of the run into the hole if its home slot allows.
    for (let j = (i + 1) & mask; keys[j] !== EMPTY; j = (j + 1) & mask) {
      const home = this.home(keys[j]!)
      if (((j - home) & mask) >= ((j - i) & mask)) {
        keys[i] = keys[j]!
        vals[i] = vals[j]
        i = j
      }
    }
    keys[i] = EMPTY
    vals[i] = undefined
    this.count--
    if (this.keys.length > MIN_CAPACITY && this.count * 8 < this.keys.length) this.resize(this.keys.length / 2)
    return true
  }

  clear(): void {
    if (this.keys.length > MIN_CAPACITY) {
      this.allocate(MIN_CAPACITY)
    } else {
      this.keys.fill(EMPTY)
      this.vals.fill(undefined)
    }
    this.count = 0
    this.hasZero = false
    this.zero = undefined
  }

  /** Calls `fn` for each entry; `fn` must not add or delete. */
  forEach(fn: (value: V, id: number) => void): void {
    if (this.hasZero) fn(this.zero as V, EMPTY)
    const { keys, vals } = this
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) fn(vals[i] as V, keys[i]!)
  }

  /** True when `test` holds for some value (stops at the first). */
  some(test: (value: V) => boolean): boolean {
    if (this.hasZero && test(this.zero as V)) return true
    const { keys, vals } = this
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY && test(vals[i] as V)) return true
    return false
  }

  /** A snapshot of the values (safe to add and delete while walking it). */
  values(): V[] {
    const out: V[] = []
    this.forEach((v) => out.push(v))
    return out
  }

  private home(id: number): number {
    return Math.imul(id, 0x9e3779b1) >>> this.shift
  }

  /** The slot holding `id` (not 0), or -1. */
  private find(id: number): number {
    const { keys, mask } = this
    for (let i = this.home(id); ; i = (i + 1) & mask) {
      const k = keys[i]
      if (k === id) return i
      if (k === EMPTY) return -1
    }
  }

  private place(id: number, value: V): void {
    const { keys, mask } = this
    let i = this.home(id)
    while (keys[i] !== EMPTY) i = (i + 1) & mask
    keys[i] = id
    this.vals[i] = value
  }

  /** An empty table of `capacity` slots (a power of two). */
  private allocate(capacity: number): void {
    this.keys = new Uint32Array(capacity)
    this.vals = new Array<V | undefined>(capacity).fill(undefined)
    this.mask = capacity - 1
    this.shift = 32 - Math.log2(capacity)
  }

  private resize(capacity: number): void {
    const { keys, vals } = this
    this.allocate(capacity)
    for (let i = 0; i < keys.length; i++) if (keys[i] !== EMPTY) this.place(keys[i]!, vals[i] as V)
  }
}
