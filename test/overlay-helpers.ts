/** Helpers shared by the overlay tests (several relays joined into one network). */
import { connect, type Connection } from '@herald/client'
import { spawnCli, startRelay, until, type RelayProc } from './harness.js'

/** One relay's view of another, as `$herald.status` reports it in `peers`. */
export interface PeerViewLite {
  nodeId: string
  connected: boolean
  addrs: string[]
  clusters: Record<string, { members: number; load: number }>
  topics: string[]
}

export interface OverlayStatus {
  nodeId: string
  network: string
  port: number
  peers: PeerViewLite[]
  clusters: Array<{ name: string; members: number; outstanding: number; queued: number }>
  topics: Array<{ name: string; subscribers: number; dropped: number }>
  counters: Record<string, number>
  links: Array<{ nodeId: string; bytesIn: number; bytesOut: number; dropped: number }>
}

/** A client connection kept open to read a relay's status often. */
export interface Watcher {
  relay: RelayProc
  conn: Connection
  status(): Promise<OverlayStatus>
  /** The peer ids this relay's directory lists (optionally only those with a link). */
  peerIds(opts?: { linked?: boolean }): Promise<string[]>
  close(): Promise<void>
}

export async function watch(relay: RelayProc): Promise<Watcher> {
  const conn = await connect({ port: relay.port })
  const status = async (): Promise<OverlayStatus> => {
    const reply = await conn.request('$herald.status', '', { timeoutMs: 5000 })
    return JSON.parse(Buffer.from(reply).toString('utf8')) as OverlayStatus
  }
  return {
    relay,
    conn,
    status,
    async peerIds(opts = {}) {
      const s = await status()
      return s.peers.filter((p) => opts.linked !== true || p.connected).map((p) => p.nodeId).sort()
    },
    close: () => conn.close(),
  }
}

/**
 * Polls (directory state is only visible through status). `explain`, if given, describes the
 * state on failure (e.g. every relay's view).
 */
export async function poll(pred: () => Promise<boolean>, timeoutMs: number, what: string, explain?: () => Promise<string>): Promise<void> {
  try {
    await until(pred, timeoutMs, what)
  } catch (err) {
    if (explain === undefined) throw err
    throw new Error(`${(err as Error).message}\n${await explain().catch((e: unknown) => `(explain failed: ${String(e)})`)}`)
  }
}

/** Every watcher's view, for failure messages: relay -> [peer (linked?)]. */
export async function describeViews(ws: Watcher[]): Promise<string> {
  const name = (id: string): string => {
    const i = ws.findIndex((w) => w.relay.peerId === id)
    return i >= 0 ? `#${i + 1}` : id.slice(-6)
  }
  const lines = await Promise.all(ws.map(async (w, i) => {
    const s = await w.status().catch(() => undefined)
    if (s === undefined) return `#${i + 1} (${w.relay.peerId.slice(-6)}): no status`
    return `#${i + 1} (${w.relay.peerId.slice(-6)}): peers ${s.peers.map((p) => `${name(p.nodeId)}${p.connected ? '' : '(unlinked)'}`).join(' ') || '-'}` +
      `; links ${s.links.map((l) => name(l.nodeId)).join(' ') || '-'}`
  }))
  return lines.join('\n') + '\n' + ws.map((w, i) => `#${i + 1} stderr: ${w.relay.stderr().split('\n').filter((l) => !l.includes('WARNING')).join(' | ')}`).join('\n')
}

/** True when `w`'s view lists exactly `ids` (linked). */
export async function seesExactly(w: Watcher, ids: string[]): Promise<boolean> {
  const got = await w.peerIds({ linked: true })
  const want = [...ids].sort()
  return got.length === want.length && got.every((x, i) => x === want[i])
}

/** Waits until every relay sees every other one, linked (a full mesh). */
export async function fullMesh(ws: Watcher[], timeoutMs = 15_000): Promise<void> {
  await poll(async () => {
    for (const w of ws) {
      if (!(await seesExactly(w, ws.filter((o) => o !== w).map((o) => o.relay.peerId)))) return false
    }
    return true
  }, timeoutMs, `a full mesh of ${ws.length} relays`, () => describeViews(ws))
}

/** Waits until `w` sees relay `node` with members of `cluster` (at least `members`). */
export async function seesCluster(w: Watcher, node: string, cluster: string, members = 1, timeoutMs = 10_000): Promise<void> {
  await poll(async () => {
    const p = (await w.status()).peers.find((x) => x.nodeId === node)
    return p !== undefined && p.connected && (p.clusters[cluster]?.members ?? 0) >= members
  }, timeoutMs, `relay ${w.relay.peerId} to see cluster "${cluster}" on ${node}`,
  async () => `its view: ${JSON.stringify((await w.status()).peers)}\nits stderr: ${w.relay.stderr()}`)
}

/** Waits until `w` sees relay `node` with a subscriber of `topic`. */
export async function seesTopic(w: Watcher, node: string, topic: string, timeoutMs = 10_000): Promise<void> {
  await poll(async () => {
    const p = (await w.status()).peers.find((x) => x.nodeId === node)
    return p !== undefined && p.connected && p.topics.includes(topic)
  }, timeoutMs, `relay ${w.relay.peerId} to see topic "${topic}" on ${node}`,
  async () => `its view: ${JSON.stringify((await w.status()).peers)}\nits stderr: ${w.relay.stderr()}`)
}

/**
 * Starts a relay with explicit arguments (no implied --dev): for --key-file and --network
 * tests. Loopback only, no mDNS (it would multicast on the host's LAN), port 0.
 */
export async function startRelayRaw(args: string[]): Promise<RelayProc> {
  const p = spawnCli(['relay', '--port', '0', '--json', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...args])
  const m = await p.waitFor(/^(\{"event":"ready".*\})$/m)
  const ready = JSON.parse(m[1] as string) as { port: number; peerId: string; addrs: string[] }
  return Object.assign(p, { port: ready.port, peerId: ready.peerId, addrs: ready.addrs })
}

/** Whether a relay's stderr shows a crash or an unexpected exception. */
export function crashSigns(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /uncaught|unhandled|TypeError|RangeError|ReferenceError|FATAL|at .*\.js:\d+/i.test(l))
}

/** Rejects with a readable message if `p` does not settle within `ms` (a bound, not a sleep). */
export function within<T>(p: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what()}`)), ms)
  })
  return Promise.race([p, t]).finally(() => clearTimeout(timer))
}

/**
 * Checks that `pred` stays true for `ms` (polled every 25 ms): for "nothing happens" claims,
 * which no event can signal, so a bounded wait is the only way.
 */
export async function holds(pred: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  for (;;) {
    if (!(await pred())) throw new Error(`no longer true: ${what}`)
    if (Date.now() >= end) return
    await new Promise((r) => setTimeout(r, 25))
  }
}

/** Relay 1, then relays 2 and 3 bootstrapped to it, watched, and fully linked. */
export async function threeRelays(): Promise<{ relays: [RelayProc, RelayProc, RelayProc]; watchers: [Watcher, Watcher, Watcher] }> {
  const r1 = await startRelay()
  const [r2, r3] = await Promise.all([startRelay(['--bootstrap', r1.addrs[0]!]), startRelay(['--bootstrap', r1.addrs[0]!])])
  const watchers = await Promise.all([watch(r1), watch(r2), watch(r3)]) as [Watcher, Watcher, Watcher]
  await fullMesh(watchers)
  return { relays: [r1, r2, r3], watchers }
}
