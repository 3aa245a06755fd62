import type { RemoteNodes } from '../directory/remote-index.js'
import type { RouterCounters } from './state.js'

/**
 * Sends the same encoded bytes (an EVENT or BROADCAST) once to each relay in `nodes`, counting
 * drops. True when a link to one of them is congested: the local sender should pause.
 */
export function sendToRelays(remote: RemoteNodes, nodes: readonly string[], frame: Uint8Array, counters: RouterCounters): boolean {
  let congested = false
  for (let i = 0; i < nodes.length; i++) {
    const node = nodes[i] as string
    if (!remote.sendDroppable(node, frame)) counters.dropped++
    if (remote.congested(node)) congested = true
  }
  return congested
}
