/**
 * Types of the membership protocol: what a relay says about itself (its entry), how changes
 * travel (deltas and liveness notes), the control messages between neighbors, and what the
 * protocol needs from its surroundings (MembershipEnv) — a real relay's peer links, or the
 * simulator's virtual network and clock.
 */

import type { ControlMessage, NodeId } from '@herald/wire'

export { Liveness, type ControlMessage, type Delta, type DigestItem, type NodeId, type StatusNote } from '@herald/wire'

/** What a relay publishes about itself. Immutable: a change makes a new object. */
export interface NodeData {
  readonly addrs: readonly string[]
  /** Cluster name -> members at that relay (> 0). */
  readonly clusters: ReadonlyMap<string, number>
  readonly topics: ReadonlySet<string>
}

export const EMPTY_DATA: NodeData = { addrs: [], clusters: new Map(), topics: new Set() }

export interface TimerHandle {
  cancel(): void
}

/** What the protocol needs from outside: time, randomness, and links to other relays. */
export interface MembershipEnv {
  now(): number
  random(): number
  setTimer(ms: number, fn: () => void): TimerHandle
  /** Sends on the link to `peer`; false when there is none. */
  send(peer: NodeId, msg: ControlMessage): void
  /** Opens a link to `peer` (dialling `addrs` if needed): later linkUp(peer) or connectFailed(peer). */
  connect(peer: NodeId, addrs: readonly string[]): void
  /** Membership no longer needs its link to `peer` (the link layer may close it when idle). */
  release(peer: NodeId): void
  /** We have no neighbor: look for relays (an mDNS query), reported back as contacts. */
  discover?(): void
}

/** What the protocol reports: the view (relays alive or suspected) and their data. */
export interface MembershipListener {
  /** `node` entered the view, or its data changed (`before` undefined when it entered). */
  data?(node: NodeId, before: NodeData | undefined, after: NodeData): void
  /** `node` left the view: declared dead (or gone from our own evidence while we were cut off). */
  down?(node: NodeId, before: NodeData): void
  /** We suspect `node` (true) or no longer do (false); it stays in the view meanwhile. */
  suspect?(node: NodeId, suspected: boolean): void
  /** Something worth a log line (link-level evidence, suspicions, refutations). */
  log?(event: string, fields: Record<string, unknown>): void
}

export interface MembershipConfig {
  /** Neighbors a relay tries to keep (its partial view). */
  targetDegree: number
  /** Neighbors it accepts at most. */
  maxDegree: number
  /** How often the protocol wakes up (pings, suspicion deadlines, view upkeep). */
  tickMs: number
  /**
   * One probe (a ping, answered by a pong) leaves this often per relay, to its neighbors in
   * turn (SWIM): the cost is constant whatever the number of neighbors, and each relay is
   * probed about this often by its neighbors together.
   */
  probeIntervalMs: number
  /** The round trip assumed for a neighbor before its first answer. */
  probeFirstRttMs: number
  /** A probe still unanswered when phi (over that neighbor's round trips) passes this: suspected. */
  phiThreshold: number
  /** Floor of the round trips' deviation, and the pause the detector treats as normal. */
  phiMinStdMs: number
  phiPauseMs: number
  /** Suspicion timeout floors: after a lost connection that could not be re-opened, and after silence. */
  suspicionMinStrongMs: number
  suspicionMinWeakMs: number
  /** A lone suspicion waits this many times the floor (Lifeguard: fewer confirmations, longer wait). */
  suspicionMaxMultiplier: number
  /** Other neighbors of a suspect asked to probe it (SWIM's k); their silence confirms. */
  indirectProbes: number
  /** A relay probing a suspect for another waits at least this long (×4 round trips) for its answer. */
  probeReqMinMs: number
  /** Round trips a neighbor's phi-accrual detector remembers (about one per probe round). */
  phiWindow: number
  /** Anti-entropy digest to one random neighbor, this often. */
  antiEntropyMs: number
  /** Dead entries are forgotten after this long. */
  tombstoneMs: number
  /** Relays a directory holds at most (a flood of forged entries stops there). */
  maxNodes: number
  /** Items per gossip message at most (state transfers are cut into several). */
  maxItemsPerMessage: number
  /** While a relay has no neighbor, it tries a contact this often. */
  aloneRetryMs: number
  /** A relay that refused to be our neighbor is not asked again for this long. */
  refusedBackoffMs: number
  /** Our own event loop stalled this long: silence seen meanwhile is not evidence. */
  stallMs: number
  /** Buckets of the anti-entropy digest. */
  digestBuckets: number
}

export const DEFAULT_MEMBERSHIP: MembershipConfig = {
  targetDegree: 5,
  maxDegree: 8,
  tickMs: 100,
  probeIntervalMs: 500,
  probeFirstRttMs: 200,
  phiThreshold: 8,
  phiMinStdMs: 100,
  phiPauseMs: 300,
  suspicionMinStrongMs: 1000,
  suspicionMinWeakMs: 1500,
  suspicionMaxMultiplier: 5,
  indirectProbes: 3,
  probeReqMinMs: 1000,
  phiWindow: 30,
  antiEntropyMs: 5000,
  tombstoneMs: 60_000,
  maxNodes: 16_384,
  maxItemsPerMessage: 512,
  aloneRetryMs: 1000,
  refusedBackoffMs: 10_000,
  stallMs: 1000,
  digestBuckets: 64,
}
