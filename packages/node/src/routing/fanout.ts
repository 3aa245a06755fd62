import { DROPPED, SENT, type RemoteNodes } from '../directory/remote-index.js'
import type { RouterCounters } from './state.js'

/**
 * Sends the same encoded bytes (an EVENT or BROADCAST) once to each relay in `nodes`, counting
 * drops. True when a link to one of them is congested: the local sender should pause.
 */
export function sendToRelays(remote: RemoteNodes, nodes: readonly string[], frame: Uint8Array, counters: RouterCounters): boolean {
  let congested = false
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as string
    const outcome = remote.sendDroppable(node, frame)
    if (outcome === DROPPED) counters.dropped++
    if (outcome !== SENT) congested = true
  }
  return congested
}
