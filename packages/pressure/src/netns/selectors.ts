/**
 * Which paths an order applies to. A path is an ordered pair of hosts (traffic from one to
 * the other); an order names them as:
 *
 *   host                      everything the host sends and receives
 *   [a, b]                    between a and b, both ways
 *   { between: [A, B] }       between every host of A and every host of B, both ways
 *   { from: A, to: B }        from each host of A to each host of B only (one way)
 *
 * where a host is its index (0-based) or the LanHost itself, and A, B a host or a list.
 */
import { InvalidSettingError } from '../errors.js'

export interface LanHost {
  /** 0-based position in lan.hosts. */
  index: number
  /** "h1", "h2", ... */
  name: string
  /** The network namespace (for `ip netns exec`). */
  ns: string
  ip: string
  /** Its veth end in the bridge namespace. */
  port: string
}

export type HostRef = number | LanHost
export type HostSet = HostRef | readonly HostRef[]
export type Selector = HostRef | readonly [HostRef, HostRef] | { from: HostSet; to: HostSet } | { between: readonly [HostSet, HostSet] }

export interface Paths {
  /** Ordered pairs [from, to] (indexes). */
  pairs: Array<[number, number]>
  /** The single host when the selector was one host (its link, for bandwidth). */
  host: number | undefined
}

function index(ref: HostRef, count: number): number {
  const i = typeof ref === 'number' ? ref : ref.index
  if (!Number.isInteger(i) || i < 0 || i >= count) throw new InvalidSettingError(`no host ${String(i)} on this LAN (hosts are 0 to ${count - 1})`)
  return i
}

function set(s: HostSet, count: number): number[] {
  return (Array.isArray(s) ? s : [s as HostRef]).map((r) => index(r, count))
}

function cross(from: number[], to: number[]): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (const a of from) {
    for (const b of to) {
      if (a === b) throw new InvalidSettingError(`a path needs two different hosts (got host ${a} twice)`)
      out.push([a, b])
    }
  }
  return out
}

export function pathsOf(sel: Selector, count: number): Paths {
  if (typeof sel === 'number' || (!Array.isArray(sel) && 'index' in (sel as object))) {
    const h = index(sel as HostRef, count)
    const others = Array.from({ length: count }, (_, i) => i).filter((i) => i !== h)
    return { pairs: [...cross([h], others), ...cross(others, [h])], host: h }
  }
  if (Array.isArray(sel)) {
    if (sel.length !== 2) throw new InvalidSettingError('a pair of hosts is [a, b]')
    const [a, b] = [index(sel[0] as HostRef, count), index(sel[1] as HostRef, count)]
    return { pairs: [...cross([a], [b]), ...cross([b], [a])], host: undefined }
  }
  const o = sel as { from?: HostSet; to?: HostSet; between?: readonly [HostSet, HostSet] }
  if (o.between !== undefined) {
    const [A, B] = [set(o.between[0], count), set(o.between[1], count)]
    return { pairs: [...cross(A, B), ...cross(B, A)], host: undefined }
  }
  if (o.from !== undefined && o.to !== undefined) return { pairs: cross(set(o.from, count), set(o.to, count)), host: undefined }
  throw new InvalidSettingError('select hosts as a host, [a, b], { between: [A, B] } or { from: A, to: B }')
}
