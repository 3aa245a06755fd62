/**
 * Several relays of one network, each behind a pressure proxy that it announces
 * (`--announce`), so every relay-to-relay connection crosses exactly one proxy: the one in
 * front of the relay that was dialled. A proxy's latency applies to each direction, so a
 * relay pair sees the proxy's delay one way and twice it as a round trip, whoever dialled.
 *
 * Partitions are cut by connection, not by proxy: each proxy labels a connection with the
 * relay that opened it (the owner of its client port, from /proc), so cutting relay C off
 * holds C's proxy for the others' connections and the others' proxies for C's, present and
 * future. Linux only (the relays' own ports come from /proc as well).
 */
import { createPressureProxy, seededRandom, type PressureProxy } from '@herald/pressure'
import type { RelayStatus } from '@herald/node'
import { trackClosable } from './cleanup.js'
import { DEFAULT_VIEWS_TIMEOUT_MS, POLL_INTERVAL_MS } from './constants.js'
import { listeningPorts, ownerOfConnection } from './proc-net.js'
import { applySpec, proxyInitOf, type PressureSpec } from './pressure-spec.js'
import { startRelay, type RelayOptions, type TestRelay } from './relay-process.js'

export interface NetworkOptions {
  /** How many relays (default 3). */
  relays?: number
  /** Pressure between relays from the start (a profile, settings, or both). */
  pressure?: PressureSpec
  /**
   * Seeds every proxy's random source (delays, losses), each its own sequence, so a run can
   * be replayed; pressure() later changes settings, not the sequence.
   */
  seed?: number
  /** Network name (default: one of its own). */
  network?: string
  /** Options for every relay (not network, bootstrap, announce, name: the network sets those). */
  relay?: Omit<RelayOptions, 'network' | 'bootstrap' | 'announce' | 'name' | 'onSpawn'>
  /** Wait until every relay lists every other before resolving (default true). */
  waitForViews?: boolean
  viewsTimeoutMs?: number
}

export interface ViewsOptions {
  timeoutMs?: number
}

const nameOf = (i: number): string => (i < 26 ? String.fromCharCode(65 + i) : `R${i + 1}`)
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

let networks = 0

export class TestNetwork {
  readonly name: string
  /** The relays, named A, B, C... */
  readonly relays: TestRelay[] = []
  private readonly proxies: PressureProxy[] = []
  /** Relay names by pid, filled as each process starts (before it can dial anyone). */
  private readonly names = new Map<number, string>()

  /** Use startNetwork(). */
  constructor(name: string) {
    this.name = name
  }

  /** The proxy in front of a relay (connections other relays dialled to it go through it). */
  proxy(relay: TestRelay | number): PressureProxy {
    const p = this.proxies[this.index(relay)]
    if (p === undefined) throw new Error(`no proxy for relay ${String(typeof relay === 'number' ? relay : relay.name)}`)
    return p
  }

  /**
   * Sets the pressure on every relay-to-relay connection (replacing the previous settings). A
   * seed in `spec` is not used here: a proxy's random source is set when it is made (the
   * network's `seed` option).
   */
  pressure(spec: PressureSpec | undefined): void {
    for (const p of this.proxies) applySpec(p, spec)
  }

  /**
   * Cuts `group` off from the other relays, both ways: their connections are held (no reset,
   * no FIN, as a blackhole) and new ones wait, until heal(). Relays inside the group still
   * reach each other, and every client still reaches its own relay.
   */
  partition(group: TestRelay | TestRelay[]): void {
    const inside = new Set((Array.isArray(group) ? group : [group]).map((r) => this.index(r)))
    for (const [x, proxy] of this.proxies.entries()) {
      for (const [y, other] of this.relays.entries()) {
        if (x !== y && inside.has(x) !== inside.has(y)) proxy.partition({ scope: { label: other.name } })
      }
    }
  }

  /** Ends every partition and stall: what was held is delivered. */
  heal(): void {
    for (const p of this.proxies) p.heal()
  }

  /**
   * Waits until every running relay lists every other running relay, none of them suspected,
   * and none of the exited ones (frozen relays are left out both ways). Returns the statuses.
   */
  async waitForViews(options: ViewsOptions = {}): Promise<Map<TestRelay, RelayStatus>> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_VIEWS_TIMEOUT_MS
    const end = Date.now() + timeoutMs
    let why = 'no relay answered yet'
    for (;;) {
      const missing = await this.viewGaps().catch((err: unknown) => ({ gaps: [String(err)], statuses: new Map<TestRelay, RelayStatus>() }))
      if (missing.gaps.length === 0) return missing.statuses
      why = missing.gaps.join('; ')
      if (Date.now() > end) throw new Error(`views did not settle within ${timeoutMs} ms: ${why}`)
      await sleep(POLL_INTERVAL_MS)
    }
  }

  /** What keeps the views from being complete right now (empty when they are). */
  async viewGaps(): Promise<{ gaps: string[]; statuses: Map<TestRelay, RelayStatus> }> {
    const running = this.relays.filter((r) => r.state === 'running')
    const exited = new Set(this.relays.filter((r) => r.state === 'exited').map((r) => r.peerId))
    const statuses = new Map<TestRelay, RelayStatus>()
    const gaps: string[] = []
    await Promise.all(running.map(async (r) => { statuses.set(r, await r.status()) }))
    for (const [r, s] of statuses) {
      const peers = new Map(s.peers.map((p) => [p.nodeId, p]))
      for (const o of running) {
        if (o === r) continue
        const p = peers.get(o.peerId)
        if (p === undefined) gaps.push(`${r.name} does not list ${o.name}`)
        else if (p.suspected) gaps.push(`${r.name} suspects ${o.name}`)
      }
      for (const o of this.relays) if (exited.has(o.peerId) && peers.has(o.peerId)) gaps.push(`${r.name} still lists ${o.name}, which exited`)
    }
    return { gaps, statuses }
  }

  /** Stops every relay gracefully (killed if slow) and closes the proxies. */
  async stop(): Promise<void> {
    await Promise.all(this.relays.map((r) => r.stop().catch(() => {})))
    await Promise.all(this.proxies.map((p) => p.close().catch(() => {})))
  }

  /** @internal */
  async start(options: NetworkOptions): Promise<void> {
    const count = options.relays ?? 3
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`a network has at least one relay, got ${String(count)}`)
    const init = proxyInitOf(options.pressure)
    for (let i = 0; i < count; i++) {
      const proxy = await createPressureProxy({
        // The real port is known once the relay listens; until then connections wait (below).
        target: { host: '127.0.0.1', port: 1 },
        ...init,
        ...(options.seed !== undefined ? { random: seededRandom(options.seed + i) } : {}),
        classify: (client) => {
          const pid = ownerOfConnection(client.port, proxy.port, this.names.keys())
          return pid === undefined ? undefined : this.names.get(pid)
        },
      })
      trackClosable(proxy)
      // Held until the relay behind it listens: a peer may dial it before we know where to.
      proxy.partition({ scope: 'new' })
      this.proxies.push(proxy)
    }
    const first = await this.startOne(0, [], options)
    await Promise.all(Array.from({ length: count - 1 }, (_, i) => this.startOne(i + 1, [first.addrs[0]!], options)))
    this.relays.sort((a, b) => a.name.localeCompare(b.name, 'en', { numeric: true }))
  }

  private async startOne(i: number, bootstrap: string[], options: NetworkOptions): Promise<TestRelay> {
    const proxy = this.proxies[i]!
    const name = nameOf(i)
    const relay = await startRelay({
      ...options.relay,
      name,
      network: this.name,
      bootstrap,
      announce: [`/ip4/127.0.0.1/tcp/${proxy.port}`],
      onSpawn: (pid) => this.names.set(pid, name),
    })
    this.relays[i] = relay
    const ports = listeningPorts(relay.pid).filter((p) => p !== relay.port)
    if (ports.length !== 1) throw new Error(`relay ${name}: cannot tell its overlay port among the ports it listens on (${ports.join(', ') || 'none'}); give extra listeners (--metrics, --ui) fixed ports`)
    proxy.retarget({ host: '127.0.0.1', port: ports[0]! })
    proxy.heal({ scope: 'all' })
    return relay
  }

  private index(relay: TestRelay | number): number {
    const i = typeof relay === 'number' ? relay : this.relays.indexOf(relay)
    if (i < 0 || i >= this.relays.length) throw new Error(`relay ${typeof relay === 'number' ? relay : relay.name} is not in network ${this.name}`)
    return i
  }
}

/** Starts `relays` relays (default 3) behind pressure proxies, joined into one network. */
export async function startNetwork(options: NetworkOptions = {}): Promise<TestNetwork> {
  const net = new TestNetwork(options.network ?? `testkit-net-${process.pid}-${++networks}`)
  trackClosable({ close: () => net.stop() })
  await net.start(options)
  if (options.waitForViews !== false) await net.waitForViews({ timeoutMs: options.viewsTimeoutMs ?? DEFAULT_VIEWS_TIMEOUT_MS })
  return net
}
