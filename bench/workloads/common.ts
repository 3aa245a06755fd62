/** Pieces every workload uses: servers with guaranteed teardown, and metric helpers. */
import { killAll } from '../../test/harness.js'
import { killWorkers } from '../driver.js'
import { killNatsServers, startServers, type ServerGroup } from '../servers.js'
import type { Metric, RunOptions, System } from '../workload.js'

/** Starts `count` servers, runs `fn`, and always stops the servers and kills every worker. */
export async function withServers<T>(system: System, count: 1 | 2, opts: RunOptions, fn: (g: ServerGroup) => Promise<T>): Promise<T> {
  const g = await startServers(system, count, { relayNodeArgs: opts.relayNodeArgs, relayArgs: opts.relayArgs ?? [] })
  try {
    return await fn(g)
  } finally {
    await killWorkers() // workers first, so the relays stop gracefully (and --cpu-prof is written)
    await g.stop().catch(() => {})
    await killAll() // anything else the harness started
    await killNatsServers()
  }
}

export const MiB = 2 ** 20

/** Per-server metrics: CPU seconds over the measured window, CPU per message, peak RSS. */
export function serverMetrics(g: ServerGroup, cpu0: number[], cpu1: number[], perMessages: number, per: string): Metric[] {
  const out: Metric[] = []
  const many = g.servers.length > 1
  g.servers.forEach((_, i) => {
    const tag = many ? `relay ${'AB'[i]!}` : 'relay'
    const key = many ? `relay${'AB'[i]!}` : 'relay'
    const cpu = (cpu1[i] ?? 0) - (cpu0[i] ?? 0)
    out.push({ key: `${key}CpuSeconds`, label: `${tag} CPU s`, value: cpu, unit: 's', digits: 2 })
    out.push({ key: `${key}CpuMicrosPer`, label: `${tag} CPU µs/${per}`, value: perMessages > 0 ? (cpu / perMessages) * 1e6 : 0, unit: 'µs', digits: 2 })
  })
  g.servers.forEach((s, i) => {
    const tag = many ? `relay ${'AB'[i]!}` : 'relay'
    const key = many ? `relay${'AB'[i]!}` : 'relay'
    out.push({ key: `${key}PeakRssMiB`, label: `${tag} peak RSS MiB`, value: s.rss.peak / MiB, unit: 'MiB', digits: 0 })
  })
  return out
}

/** Round-trip percentiles a request worker reports (µs), as metrics; `prefix` keys another set. */
export function latencyMetrics(r: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number }, prefix = '', label = ''): Metric[] {
  const k = (s: string): string => (prefix === '' ? `${s}Micros` : `${prefix}${s[0]!.toUpperCase()}${s.slice(1)}Micros`)
  return [
    { key: k('p50'), label: `${label}p50 µs`, value: r.p50, unit: 'µs' },
    { key: k('p90'), label: `${label}p90 µs`, value: r.p90, unit: 'µs' },
    { key: k('p99'), label: `${label}p99 µs`, value: r.p99, unit: 'µs' },
    { key: k('p999'), label: `${label}p99.9 µs`, value: r.p999, unit: 'µs' },
    { key: k('max'), label: `${label}max µs`, value: r.max, unit: 'µs' },
    { key: k('mean'), label: `${label}mean µs`, value: r.mean, unit: 'µs' },
  ]
}
