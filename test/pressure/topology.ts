/**
 * The three relays of a pressure scenario and one agent beside each, in one of two set-ups:
 *
 * - proxy: relays on loopback behind announced pressure proxies (@herald/testkit), so delay,
 *   jitter, loss-as-stalls, bandwidth and partitions apply to every relay-to-relay connection;
 * - kernel: relays in network namespaces on one bridge (@herald/pressure's createLan), with
 *   real packet loss from nftables; the agents run in the relays' namespaces.
 *
 * Either way the scenario sees the same thing: agents to drive, relays to freeze, partition
 * and heal, and each relay's stderr for a failure message.
 */
import { join } from 'node:path'
import { createLan, lanUnavailable, type Lan, type PressureConfig } from '@herald/pressure'
import { startNetwork, type TestNetwork } from '@herald/testkit'
import { CLI, ROOT, spawnNode, type Proc } from '../harness.js'
import { AgentClient } from './agent-client.js'

const AGENT = join(ROOT, 'test/pressure/agent.ts')
export const NAMES = ['A', 'B', 'C'] as const

export interface Topology {
  mode: 'proxy' | 'kernel'
  pids: number[]
  agents: AgentClient[]
  /** Turns the scenario's pressure on (every relay-to-relay path). */
  pressure(): void
  partition(i: number): void
  heal(): void
  freeze(i: number): void
  thaw(i: number): void
  stderr(i: number): string
  /** The relays' stderr lines as they came, with the time (ms since epoch) and relay (proxy mode). */
  log: Array<{ t: number; relay: string; line: string }>
  close(): Promise<void>
}

async function agentsReady(agents: AgentClient[]): Promise<void> {
  await Promise.all(agents.map((a) => Promise.race([a.ready, new Promise((_, reject) => setTimeout(() => reject(new Error(`${a.name} printed no ready line`)), 30_000))])))
}

/** Relays behind proxies, agents beside them; `config` is the pressure pressure() turns on. */
export async function proxyTopology(config: PressureConfig | undefined, seed: number): Promise<Topology> {
  const log: Topology['log'] = []
  const net: TestNetwork = await startNetwork({ relays: 3, relay: { onStderr: (line, relay) => { if (log.length < 10_000) log.push({ t: Date.now(), relay, line }) } } })
  const procs: Proc[] = net.relays.map((r, i) => spawnNode(AGENT, [String(r.port), NAMES[i]!], { nodeArgs: ['--import', 'tsx'] }))
  const agents = procs.map((p, i) => new AgentClient(NAMES[i]!, p.child))
  try {
    await agentsReady(agents)
  } catch (err) {
    for (const p of procs) p.kill()
    await net.stop()
    throw err
  }
  return {
    mode: 'proxy',
    pids: net.relays.map((r) => r.pid),
    agents,
    pressure: () => net.pressure({ config: config ?? {}, seed }),
    partition: (i) => net.partition(net.relays[i]!),
    heal: () => net.heal(),
    freeze: (i) => net.relays[i]!.freeze(),
    thaw: (i) => net.relays[i]!.thaw(),
    stderr: (i) => net.relays[i]!.stderr(),
    log,
    async close() {
      for (const p of procs) p.kill()
      await Promise.all(procs.map((p) => p.exited))
      await net.stop()
    },
  }
}

interface Ready { event: string; port: number; addrs: string[] }

/** Relays in namespaces on one LAN; pressure() sets `loss` on every path between them. */
export async function kernelTopology(loss: number): Promise<Topology> {
  const lan: Lan = createLan(3)
  try {
    const network = `pressure-${lan.id}`
    const relay = (i: number, bootstrap: string[]) => lan.spawn(i, [
      process.execPath, CLI, 'relay', '--dev', '--network', network, '--port', '0', '--json',
      '--listen', `/ip4/${lan.hosts[i]!.ip}/tcp/0`, ...bootstrap.flatMap((b) => ['--bootstrap', b]),
    ], { cwd: ROOT })
    const first = relay(0, [])
    const r0 = await first.waitLine<Ready>((x) => x.event === 'ready', { timeoutMs: 30_000, what: 'relay A ready' })
    const others = [1, 2].map((i) => relay(i, [r0.addrs[0]!]))
    const readies = [r0, ...await Promise.all(others.map((p, k) => p.waitLine<Ready>((x) => x.event === 'ready', { timeoutMs: 30_000, what: `relay ${NAMES[k + 1]!} ready` })))]
    const relays = [first, ...others]
    const agents = readies.map((r, i) => new AgentClient(NAMES[i]!, lan.spawn(i, [process.execPath, '--import', 'tsx', AGENT, String(r.port), NAMES[i]!], { cwd: ROOT }).child))
    await agentsReady(agents)
    const signal = (i: number, sig: NodeJS.Signals): void => { process.kill(relays[i]!.pid, sig) }
    return {
      mode: 'kernel',
      pids: relays.map((r) => r.pid),
      agents,
      pressure: () => { for (const pair of [[0, 1], [0, 2], [1, 2]] as const) lan.shape(pair, { loss }) },
      partition: (i) => lan.partition({ between: [i, [0, 1, 2].filter((j) => j !== i)] }),
      heal: () => lan.heal(),
      freeze: (i) => signal(i, 'SIGSTOP'),
      thaw: (i) => signal(i, 'SIGCONT'),
      stderr: (i) => relays[i]!.stderr(),
      log: [],
      close: () => lan.close(),
    }
  } catch (err) {
    await lan.close()
    throw err
  }
}

/** Why kernel mode cannot run here, or undefined. */
export const kernelUnavailable = (): string | undefined => lanUnavailable()
