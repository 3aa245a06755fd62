/**
 * The two servers of bench:pressure, with one pressure proxy on the path between them:
 *
 * - Herald: two relays from @herald/testkit, each behind a proxy it announces, so the one
 *   connection between them crosses one proxy (the one in front of the relay dialled);
 * - NATS: two clustered nats-servers, B's route dialling A's cluster port through a proxy.
 *
 * Either way the proxy models both directions of that one connection, so both systems cross
 * exactly the same pressure. `ready()` resolves once server A would route to B's member,
 * subscriber (and, for Herald, tunnel member); `pressure()` then turns the profile on.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '@herald/client'
import { createPressureProxy, seededRandom, type PressureProxy } from '@herald/pressure'
import { startNetwork } from '@herald/testkit'
import { until } from '../test/harness.js'
import { killNatsServers, startNatsServer } from './servers.js'
import type { System } from './workers/client.js'

export interface Pair {
  system: System
  ports: [number, number]
  pids: [number, number]
  /** Waits until A routes `cluster` and `topic` (and `tunnelCluster`, Herald) to B. */
  ready(names: { cluster: string; topic: string; tunnelCluster?: string }): Promise<void>
  pressure(profile: string): void
  stop(): Promise<void>
}

/** `seed` fixes the proxies' delays and losses, so both systems (and reruns) meet the same sequence. */
export async function startPair(system: System, seed: number): Promise<Pair> {
  return system === 'herald' ? heraldPair(seed) : natsPair(seed)
}

async function heraldPair(seed: number): Promise<Pair> {
  const net = await startNetwork({ relays: 2, seed })
  const [a, b] = net.relays as [typeof net.relays[0], typeof net.relays[0]]
  return {
    system: 'herald',
    ports: [a.port, b.port],
    pids: [a.pid, b.pid],
    async ready({ cluster, topic, tunnelCluster }) {
      await until(async () => {
        const peer = (await a.status()).peers.find((p) => p.nodeId === b.peerId)
        return peer !== undefined && (peer.clusters[cluster]?.members ?? 0) > 0 && peer.topics.includes(topic) &&
          (tunnelCluster === undefined || (peer.clusters[tunnelCluster]?.members ?? 0) > 0)
      }, 30_000, 'relay A to see relay B\'s member and subscriber')
    },
    pressure: (profile) => net.pressure(profile),
    stop: () => net.stop(),
  }
}

async function natsPair(seed: number): Promise<Pair> {
  const dir = mkdtempSync(join(tmpdir(), 'herald-pressure-nats-'))
  let proxy: PressureProxy | undefined
  try {
    const a = await startNatsServer(dir, 'pa')
    proxy = await createPressureProxy({ target: { host: '127.0.0.1', port: a.clusterPort }, random: seededRandom(seed) })
    const b = await startNatsServer(dir, 'pb', proxy.port)
    const p = proxy
    return {
      system: 'nats',
      ports: [a.port, b.port],
      pids: [a.pid, b.pid],
      async ready({ cluster, topic }) {
        // Interest crosses the route as subscriptions on it: A's /routez lists them.
        await until(async () => {
          const body = await (await fetch(`http://127.0.0.1:${a.httpPort}/routez?subs=1`)).json() as { routes?: Array<{ subscriptions_list?: string[] }> }
          const subs = (body.routes ?? []).flatMap((r) => r.subscriptions_list ?? [])
          return subs.includes(cluster) && subs.includes(topic)
        }, 30_000, 'nats-server A to see B\'s interest over the route')
      },
      pressure: (profile) => p.useProfile(profile),
      async stop() {
        await p.close()
        for (const s of [a, b]) s.child.kill('SIGTERM')
        await Promise.all([a.exited, b.exited])
        rmSync(dir, { recursive: true, force: true })
      },
    }
  } catch (err) {
    await proxy?.close()
    await killNatsServers()
    rmSync(dir, { recursive: true, force: true })
    throw err
  }
}

/** The $herald.status counters of a relay (for the notes of a run). */
export async function heraldDropped(port: number): Promise<number> {
  const conn = await connect({ port })
  try {
    const s = JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString('utf8')) as { counters: Record<string, number> }
    return s.counters['dropped'] ?? 0
  } finally {
    await conn.close()
  }
}
