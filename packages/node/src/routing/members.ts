import type { MemberLimits } from '@herald/wire'
import type { ClusterLoad } from '../directory/control-plane.js'
import type { ClientEndpoint } from './endpoint.js'
import type { MemberState, RouterCounters } from './state.js'
import { IdMap } from './id-map.js'

export interface ClusterGroup {
  readonly name: string
  members: MemberState[]
  /** Where the next round-robin tie-break starts. */
  rr: number
}

/** The local members of each cluster, and how one is picked for a request. */
export class Members {
  private readonly groups = new Map<string, ClusterGroup>()

  constructor(private readonly counters: RouterCounters) {}

  group(cluster: string): ClusterGroup | undefined {
    return this.groups.get(cluster)
  }

  add(endpoint: ClientEndpoint, cluster: string, limits: MemberLimits): MemberState {
    const member: MemberState = {
      endpoint, cluster, limits, outstanding: 0, outstandingBytes: 0, inflight: new IdMap(),
      broadcasts: endpoint.outlet(limits.broadcastMemory, undefined),
    }
    let group = this.groups.get(cluster)
    if (group === undefined) {
      group = { name: cluster, members: [], rr: 0 }
      this.groups.set(cluster, group)
    }
    group.members.push(member)
    return member
  }

  /** Takes the member out of its group; true when that left the group empty (it is gone then). */
  remove(member: MemberState): boolean {
    member.broadcasts.close()
    const group = this.groups.get(member.cluster)
    if (group === undefined) return false
    group.members = group.members.filter((m) => m !== member)
    if (group.members.length > 0) return false
    this.groups.delete(group.name)
    return true
  }

  /** Least outstanding requests among members with room; ties broken round-robin. */
  pick(group: ClusterGroup, size: number): MemberState | undefined {
    const n = group.members.length
    let best: MemberState | undefined
    for (let k = 0; k < n; k++) {
      const m = group.members[(group.rr + k) % n] as MemberState
      if (m.outstanding >= m.limits.requestConcurrency) continue
      if (m.outstanding > 0 && m.outstandingBytes + size > m.limits.requestMemory) continue
      if (best === undefined || m.outstanding < best.outstanding) best = m
    }
    if (best !== undefined) group.rr = (group.members.indexOf(best) + 1) % n
    return best
  }

  /** `frame` is the encoded BROADCAST frame, offered to each member as it is. */
  broadcast(cluster: string, frame: Uint8Array): void {
    const group = this.groups.get(cluster)
    if (group === undefined) return
    for (const m of group.members) {
      if (m.broadcasts.offer(frame)) this.counters.delivered++
      else this.counters.dropped++
    }
  }

  /** Clusters with members here, with their load, for this relay's directory entry. */
  summary(): Record<string, ClusterLoad> {
    const out: Record<string, ClusterLoad> = {}
    for (const g of this.groups.values()) out[g.name] = { members: g.members.length, load: load(g) }
    return out
  }

  rows(): Array<{ name: string; members: number; outstanding: number }> {
    return [...this.groups.values()].map((g) => ({ name: g.name, members: g.members.length, outstanding: load(g) }))
  }
}

function load(g: ClusterGroup): number {
  return g.members.reduce((s, m) => s + m.outstanding, 0)
}

