/**
 * idle: the memory of a server with nothing to do — RSS as soon as it is ready, and after a
 * settle period with no clients. run.ts adds the server's peak RSS during pubsub-1-64 (from
 * that row's runs) when both ran, to show how far load moves it.
 */
import { rssOf } from '../../test/harness.js'
import type { Row, RunResult, Workload } from '../workload.js'
import { MiB, withServers } from './common.js'

const idleRow: Row = {
  name: 'idle',
  description: 'a server with no clients: RSS when ready and after settling',
  systems: ['herald', 'nats'],
  headline: ['rssReadyMiB', 'rssSettledMiB', 'pubsubPeakRssMiB'],
  params: (o) => ({ settleMs: settleMs(o.smoke) }),
  run: (system, opts) => withServers(system, 1, opts, async (g): Promise<RunResult> => {
    const s = g.servers[0]!
    const ready = rssOf(s.pid)
    const cpu0 = g.cpu()
    const settle = settleMs(opts.smoke)
    opts.progress(`  ${opts.label}  RSS ${(ready / MiB).toFixed(0)} MiB when ready; settling ${settle / 1000} s`)
    await new Promise((r) => setTimeout(r, settle))
    const settled = rssOf(s.pid)
    const cpu = g.cpu()[0]! - cpu0[0]!
    return {
      metrics: [
        { key: 'rssReadyMiB', label: 'RSS when ready MiB', value: ready / MiB, unit: 'MiB', digits: 1 },
        { key: 'rssSettledMiB', label: `RSS after ${settle / 1000} s idle MiB`, value: settled / MiB, unit: 'MiB', digits: 1 },
        { key: 'idleCpuSeconds', label: `CPU s in ${settle / 1000} s idle`, value: cpu, unit: 's', digits: 2 },
      ],
      failures: [],
      notes: [],
    }
  }),
}

function settleMs(smoke: boolean): number {
  // 30 s: V8 returns start-up memory (old bytecode, the grown young generation) some 25 s
  // after the relay is ready, when its memory reducer runs; a relay idles far longer than that.
  return smoke ? 500 : 30_000
}

export const idle: Workload = {
  name: 'idle',
  description: 'idle server RSS (when ready, after 30 s), and its peak RSS during pubsub-1-64',
  rows: [idleRow],
}
