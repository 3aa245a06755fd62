/**
 * Several real relays in one process (libp2p over TCP on loopback, as `herald relay --dev`),
 * for bench/scale.ts: a hundred relays do not fit on two cores as a hundred processes.
 *
 *   tsx bench/workers/relays.ts --count K [--bootstrap MULTIADDR] [--network NAME]
 *
 * Prints one JSON line per event on stdout: `ready` per relay, then answers to commands read
 * from stdin, one JSON object per line:
 *   {"cmd":"views"}                 -> {"event":"views","sizes":[...]}  (relays in each view)
 *   {"cmd":"has","node":ID}         -> {"event":"has","count":N}        (views holding ID)
 *   {"cmd":"serves","cluster":C}    -> {"event":"serves","count":N}     (views where some relay serves C)
 *   {"cmd":"stats"}                 -> {"event":"stats",...}            (CPU, RSS, control bytes, view changes)
 * and watches (every 10 ms, in process) for what the driver waits on:
 *   {"cmd":"watch-gone","node":ID}  -> {"event":"gone","node":ID,"at":ms} once no view holds ID
 *   {"cmd":"watch-cluster","cluster":C} -> {"event":"cluster","cluster":C,"at":ms} once every view has it
 *   {"cmd":"watch-complete","size":N}   -> {"event":"complete","at":ms} once every view holds N relays
 */
import '../../packages/node/src/polyfill.js'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { startRelay, type Relay } from '../../packages/node/src/index.js'

const { values } = parseArgs({ options: { count: { type: 'string' }, bootstrap: { type: 'string' }, network: { type: 'string' } } })
const count = Number(values.count ?? 1)
const bootstrap = values.bootstrap !== undefined ? [values.bootstrap] : []
const network = values.network ?? 'bench-scale'

function emit(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`)
}

const relays: Relay[] = []
/** Relays that left some view, counted per relay (flaps when nothing died). */
let downs = 0
for (let i = 0; i < count; i++) {
  // Start them one after another: a burst of libp2p start-ups on two cores helps nobody.
  const r = await startRelay({ network, port: 0, bootstrap, log: () => {} })
  relays.push(r)
  emit({ event: 'ready', nodeId: r.nodeId, port: r.port, addrs: r.addrs() })
}
function viewOf(r: Relay): Set<string> {
  return new Set(r.control.membership.store.view().filter((n) => n !== r.nodeId))
}

/** Some relay in `r`'s view (itself included) serves `cluster`: a request there is routable. */
function serves(r: Relay, cluster: string): boolean {
  const store = r.control.membership.store
  return store.view().some((n) => store.dataOf(n)?.clusters.has(cluster) === true)
}

type Watch = () => boolean
const watches = new Set<Watch>()
setInterval(() => {
  for (const w of [...watches]) if (w()) watches.delete(w)
}, 10).unref()

// View changes: a relay leaving any view while nothing was killed is a flap.
const lastViews = relays.map((r) => viewOf(r))
setInterval(() => {
  relays.forEach((r, k) => {
    const now = viewOf(r)
    for (const n of lastViews[k]!) if (!now.has(n)) downs++
    lastViews[k] = now
  })
}, 200).unref()

const cpu0 = process.cpuUsage()
const rl = createInterface({ input: process.stdin })
rl.on('line', (line) => {
  let cmd: { cmd: string; node?: string; cluster?: string; size?: number }
  try {
    cmd = JSON.parse(line) as typeof cmd
  } catch {
    return
  }
  switch (cmd.cmd) {
    case 'views':
      emit({ event: 'views', sizes: relays.map((r) => viewOf(r).size) })
      return
    case 'has':
      emit({ event: 'has', count: relays.filter((r) => viewOf(r).has(cmd.node!)).length })
      return
    case 'serves':
      emit({ event: 'serves', count: relays.filter((r) => serves(r, cmd.cluster!)).length })
      return
    case 'stats': {
      const c = process.cpuUsage(cpu0)
      emit({
        event: 'stats',
        cpuSeconds: (c.user + c.system) / 1e6,
        rss: process.memoryUsage.rss(),
        controlBytesOut: relays.reduce((s, r) => s + r.status().counters['controlBytesOut']!, 0),
        links: relays.reduce((s, r) => s + r.status().links.length, 0),
        downs,
      })
      return
    }
    case 'watch-gone':
      watches.add(() => {
        if (relays.some((r) => viewOf(r).has(cmd.node!))) return false
        emit({ event: 'gone', node: cmd.node, at: Date.now() })
        return true
      })
      return
    case 'watch-cluster':
      watches.add(() => {
        const all = relays.every((r) => serves(r, cmd.cluster!))
        if (!all) return false
        emit({ event: 'cluster', cluster: cmd.cluster, at: Date.now() })
        return true
      })
      return
    case 'watch-complete':
      watches.add(() => {
        if (!relays.every((r) => viewOf(r).size === cmd.size)) return false
        emit({ event: 'complete', at: Date.now() })
        return true
      })
      return
    case 'reset-downs':
      downs = 0
      emit({ event: 'reset' })
      return
  }
})

process.on('SIGTERM', () => {
  void Promise.all(relays.map((r) => r.stop())).finally(() => process.exit(0))
})
