/**
 * What applies to connections still to come, for the whole proxy and for each label: a new
 * connection gets the two combined, the stricter of each.
 */
import type { Direction } from './settings.js'

export interface ProxyState {
  partitioned: Record<Direction, boolean>
  /** New connections are accepted and their bytes discarded, the target never dialled. */
  halfOpen: boolean
  /** New connections are reset as soon as they are accepted. */
  refusing: boolean
  /** New connections are stalled until this time (performance.now() clock) in each direction. */
  stalledUntil: Record<Direction, number>
}

export const freshState = (): ProxyState => ({
  partitioned: { up: false, down: false }, halfOpen: false, refusing: false, stalledUntil: { up: -Infinity, down: -Infinity },
})

/** What a new connection gets: the proxy's state and its label's, whichever is stricter. */
export function combine(a: ProxyState, b: ProxyState | undefined): ProxyState {
  if (b === undefined) return a
  return {
    partitioned: { up: a.partitioned.up || b.partitioned.up, down: a.partitioned.down || b.partitioned.down },
    halfOpen: a.halfOpen || b.halfOpen,
    refusing: a.refusing || b.refusing,
    stalledUntil: { up: Math.max(a.stalledUntil.up, b.stalledUntil.up), down: Math.max(a.stalledUntil.down, b.stalledUntil.down) },
  }
}

