/**
 * A first-in first-out queue with O(1) push and shift (a ring buffer that doubles when full),
 * optionally bounded in items and in bytes. Past a bound `push` refuses the item and the
 * caller applies its policy (drop and count, or refuse the request).
 *
 * It lives in @herald/wire because the relay and the SDK both need it and share nothing else;
 * it does no I/O. (Array#shift is O(n): a long queue drained from the front costs quadratic
 * time, which a busy relay or a fast publisher turns into a stall.)
 */
export interface DequeInit<T> {
  /** At most this many items (default: unbounded). */
  maxItems?: number
  /** At most this many bytes, as counted by `sizeOf` (default: unbounded). */
  maxBytes?: number
  /** The bytes an item counts for (default: 0, so only maxItems bounds the queue). */
  sizeOf?: (item: T) => number
}

const EMPTY_SLOT = undefined

export class Deque<T> {
  private slots: Array<T | undefined> = new Array(8)
  private head = 0
  private count = 0
  private size = 0
  private readonly maxItems: number
  private readonly maxBytes: number
  private readonly sizeOf: ((item: T) => number) | undefined

  constructor(init: DequeInit<T> = {}) {
    this.maxItems = init.maxItems ?? Infinity
    this.maxBytes = init.maxBytes ?? Infinity
    this.sizeOf = init.sizeOf
  }

  get length(): number {
    return this.count
  }

  /** Bytes held, as counted by `sizeOf`. */
  get bytes(): number {
    return this.size
  }

  /** Whether `bytes` more would still fit under maxBytes (and one more item under maxItems). */
  fits(bytes: number): boolean {
    return this.count < this.maxItems && this.size + bytes <= this.maxBytes
  }

  /** Adds `item` at the tail; false (nothing added) when it would pass a bound. */
  push(item: T): boolean {
    const bytes = this.sizeOf === undefined ? 0 : this.sizeOf(item)
    if (!this.fits(bytes)) return false
    if (this.count === this.slots.length) this.grow()
    this.slots[(this.head + this.count) & (this.slots.length - 1)] = item
    this.count++
    this.size += bytes
    return true
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const item = this.slots[this.head] as T
    this.slots[this.head] = EMPTY_SLOT // release it now
    this.head = (this.head + 1) & (this.slots.length - 1)
    this.count--
    if (this.sizeOf !== undefined) this.size -= this.sizeOf(item)
    return item
  }

  /** The oldest item, left in place. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.slots[this.head]
  }

  clear(): void {
    this.slots = new Array(8)
    this.head = 0
    this.count = 0
    this.size = 0
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.count; i++) yield this.slots[(this.head + i) & (this.slots.length - 1)] as T
  }

  private grow(): void {
    const next = new Array<T | undefined>(this.slots.length * 2)
    for (let i = 0; i < this.count; i++) next[i] = this.slots[(this.head + i) & (this.slots.length - 1)]
    this.slots = next
    this.head = 0
  }
}
