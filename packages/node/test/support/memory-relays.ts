/**
 * Several relays in this process on a MemoryNetwork, sharing one ManualClock: no sockets, no
 * processes, no sleeping. Clients are the real SDK over in-process connections.
 */
import { connect, register, type Connection, type RegisterOptions, type Service } from '@herald/client'
import { ManualClock, MemoryNetwork, createRelay, type MemoryNetworkInit, type Relay, type RelayInit, type RelayLimits } from '../../src/index.js'

export interface MemoryRelays {
  net: MemoryNetwork
  clock: ManualClock
  relays: Relay[]
  /** Log lines of each relay. */
  logs: string[][]
  /** A client of relay i. */
  client(i: number): Promise<Connection>
  /** A member of relay i. */
  member(i: number, options: Omit<RegisterOptions, 'port' | 'socket'>): Promise<Service>
  /** Advances the clock by `ms` in steps, letting I/O run between steps. */
  run(ms: number, step?: number): Promise<void>
  /** Runs the clock until `pred` holds (at most `maxMs` of clock time). */
  runUntil(pred: () => boolean, what: string, maxMs?: number): Promise<void>
  stop(): Promise<void>
}

/** Lets pending I/O callbacks, immediates and promise reactions run. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r))
}

/** The dialable address of memory node `id` (as MemoryOverlay.addrs() gives it). */
export function memoryAddr(id: string): string {
  return `/memory/${id}/p2p/${id}`
}

/** Advances `clock` by `ms` in steps, letting I/O run between steps. */
export async function advance(clock: ManualClock, ms: number, step = 50): Promise<void> {
  for (let t = 0; t < ms; t += step) {
    clock.advance(Math.min(step, ms - t))
    await turns()
  }
}

/** Waits, turn by turn (no timers), until `pred` holds. */
export async function until(pred: () => boolean, what: string, maxTurns = 5000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (pred()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`never happened: ${what}`)
}

export interface MemoryRelaysOptions {
  limits?: Partial<RelayLimits>
  network?: MemoryNetworkInit
  /** Which relay relay i bootstraps to (an index), if any; default: every relay but the first to relay 0. */
  join?: (i: number) => number | undefined
  /** More of relay i's RelayInit (relays of one network may differ, e.g. in maxMessageBytes). */
  init?: (i: number) => Partial<RelayInit>
}

/** `n` relays r1..rn, started, not yet linked (see run / runUntil). */
export async function memoryRelays(n: number, opts: MemoryRelaysOptions = {}): Promise<MemoryRelays> {
  const net = new MemoryNetwork(opts.network)
  const clock = new ManualClock()
  const relays: Relay[] = []
  const logs: string[][] = []
  for (let i = 0; i < n; i++) {
    const overlay = net.node(`r${i + 1}`)
    const log: string[] = []
    logs.push(log)
    const to = opts.join !== undefined ? opts.join(i) : i > 0 ? 0 : undefined
    const bootstrap = to === undefined ? [] : [memoryAddr(`r${to + 1}`)]
    const relay = createRelay({
      port: false, bootstrap, log: (m) => log.push(m), ...(opts.limits !== undefined ? { limits: opts.limits } : {}), ...opts.init?.(i),
    }, { overlay, clock })
    await relay.start()
    relays.push(relay)
  }
  const run = (ms: number, step = 50): Promise<void> => advance(clock, ms, step)
  const conns: Array<Connection | Service> = []
  return {
    net, clock, relays, logs, run,
    async runUntil(pred, what, maxMs = 30_000) {
      for (let t = 0; t <= maxMs; t += 50) {
        if (pred()) return
        await run(50)
      }
      throw new Error(`never happened within ${maxMs} ms of clock time: ${what}`)
    },
    async client(i) {
      const c = await connect({ socket: relays[i]!.connectInProcess() })
      conns.push(c)
      return c
    },
    async member(i, options) {
      const s = await register({ ...options, socket: relays[i]!.connectInProcess() })
      conns.push(s)
      return s
    },
    async stop() {
      for (const c of conns) void c.close().catch(() => {})
      await turns()
      for (const r of relays) void r.stop().catch(() => {})
      clock.advance(60_000)
      await turns()
    },
  }
}

/** Whether relay `from` lists `to` in its directory, linked. */
export function sees(from: Relay, to: Relay): boolean {
  return from.status().peers.some((p) => p.nodeId === to.nodeId && p.connected)
}

/** Whether relay `from` holds `to` in its view (linked or not: links open on demand). */
export function inView(from: Relay, to: Relay): boolean {
  return from.status().peers.some((p) => p.nodeId === to.nodeId)
}

/** Whether every relay sees every other one, linked. */
export function fullMesh(relays: Relay[]): boolean {
  return relays.every((a) => relays.every((b) => a === b || sees(a, b)))
}
