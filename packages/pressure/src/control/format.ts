/** One-line human renderings of settings, stats and connections (the CLI's output). */
import type { ConnectionInfo } from '../connection.js'
import type { PipeStats } from '../pipe.js'
import type { ProxyStats } from '../proxy.js'
import type { ResolvedLink, ResolvedSettings } from '../settings.js'
import { formatBytes, formatPercent, formatRate } from '../units.js'

const ms = (n: number): string => `${+n.toFixed(2)}ms`

export function linkLine(l: ResolvedLink): string {
  const parts = [`latency ${ms(l.latencyMs)}`, `jitter ${ms(l.jitterMs)}`]
  if (l.correlation > 0) parts.push(`correlation ${formatPercent(l.correlation)}`)
  parts.push(`loss ${formatPercent(l.loss)}`, `bandwidth ${formatRate(l.bandwidth)}`)
  if (l.sliceBytes > 0) parts.push(`slice ${l.sliceBytes}B gap ${ms(l.sliceGapMs)}`)
  return `${parts.join(', ')} (segment ${l.segmentBytes}B, rto ${ms(l.rtoMs)}, buffer ${formatBytes(l.bufferBytes)})`
}

export function settingsLine(s: ResolvedSettings): string {
  const up = linkLine(s.up)
  const down = linkLine(s.down)
  return up === down ? `both ways: ${up}` : `up: ${up} | down: ${down}`
}

function pipeLine(p: PipeStats): string {
  const parts = [`${formatBytes(p.bytesIn)} in`, `${formatBytes(p.bytesOut)} out`, `held ${formatBytes(p.heldBytes)} (peak ${formatBytes(p.peakHeldBytes)})`]
  if (p.heldBack > 0) parts.push(`${p.heldBack} held back`)
  if (p.discardedBytes > 0) parts.push(`${formatBytes(p.discardedBytes)} discarded`)
  return parts.join(', ')
}

export function statsLine(s: ProxyStats): string {
  const c = s.connections
  const state: string[] = []
  if (s.state.partitioned.up || s.state.partitioned.down) {
    state.push(`partitioned ${s.state.partitioned.up && s.state.partitioned.down ? 'both ways' : s.state.partitioned.up ? 'up' : 'down'}`)
  }
  if (s.state.halfOpen) state.push('half-open')
  if (s.state.refusing) state.push('refusing')
  return [
    `connections ${c.open} open, ${c.accepted} accepted, ${c.refused} refused, ${c.reset} reset, ${c.failed} failed`,
    `up ${pipeLine(s.totals.up)}`,
    `down ${pipeLine(s.totals.down)}`,
    ...state,
  ].join(' | ')
}

export function connectionLine(c: ConnectionInfo): string {
  return `#${c.id} ${c.client} -> ${c.target} ${c.state}${c.closeReason !== undefined ? ` (${c.closeReason})` : ''}` +
    ` | up ${c.up.state}: ${pipeLine(c.up)} | down ${c.down.state}: ${pipeLine(c.down)}`
}

/** JSON with Infinity (no bandwidth limit) spelled "Infinity" instead of null. */
export function toJson(data: unknown): string {
  return JSON.stringify(data, (_k, v: unknown) => (v === Infinity ? 'Infinity' : v))
}
