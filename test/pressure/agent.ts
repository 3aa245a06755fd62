/**
 * A pressure-tier agent: one process per relay (beside it: in its network namespace in
 * kernel mode), connected to that relay's client port and driven by JSON lines on stdin, one
 * answer per line on stdout. It serves, subscribes and loads the network with every pattern
 * (agent-loops.ts), then reports what it saw.
 *
 *   node --import tsx test/pressure/agent.ts PORT TAG
 *
 * Commands ({"id": N, "op": ..., ...}) and answers ({"id": N, "ok": true, "result": ...}):
 *   serve     {requests, tunnels, broadcasts}   join these clusters (reply "<tag>:<request>";
 *                                               echo tunnels at tunnelBytesPerSecond; check broadcasts)
 *   subscribe {topic}
 *   start     {requests: [{cluster, perSecond, timeoutMs}], publish: {topic, perSecond, bytes},
 *              broadcast: {cluster, perSecond, bytes}, tunnel: {cluster, messageBytes, openTimeoutMs}}
 *   stop      {drainMs}                         stops the load, waits for it to settle -> report
 *   report    {}                                what was received so far -> report
 *   status    {}                                the relay's $herald.status
 */
import { connect, register, type Service, type Tunnel } from '@herald/client'
import { serveCommands, type Command } from '../json-commands.js'
import { RequestLoop, SequenceChecker, SequenceSender, TunnelWriter } from './agent-loops.js'
import type { AgentReport } from './report.js'

const port = Number(process.argv[2])
const tag = process.argv[3] ?? 'agent'
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: agent.ts PORT TAG\n')
  process.exit(2)
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

const conn = await connect({ port })
const services: Service[] = []
const topics = new Map<string, SequenceChecker>()
const broadcasts = new SequenceChecker()
const subscriptions: Array<{ stats(): { dropped: number } }> = []
const served = { requests: 0, tunnels: 0, tunnelMessages: 0 }
let load: { requests: RequestLoop[]; publisher?: SequenceSender; broadcaster?: SequenceSender; tunnel?: TunnelWriter } = { requests: [] }

/** The member's end of a tunnel: echoes every message, reading no faster than `perSecond` bytes. */
async function echo(tun: Tunnel, perSecond: number): Promise<void> {
  served.tunnels++
  const started = Date.now()
  let bytes = 0
  try {
    for await (const m of tun) {
      bytes += m.length
      const due = started + (bytes * 1000) / perSecond
      if (due > Date.now()) await sleep(due - Date.now())
      await tun.send(m)
      served.tunnelMessages++
    }
  } catch {
    // The opener's side reports a broken tunnel; here it just ends.
  }
}

function report(): AgentReport {
  return {
    tag,
    requests: load.requests.map((l) => ({ cluster: l.cluster, timeoutMs: l.timeoutMs, records: l.records, outstanding: l.outstanding, skipped: l.skipped })),
    published: load.publisher?.times ?? [],
    publishErrors: load.publisher?.errors ?? 0,
    broadcastsSent: load.broadcaster?.times ?? [],
    topics: Object.fromEntries([...topics].map(([t, c]) => [t, c.senders])),
    eventsMalformed: [...topics.values()].reduce((n, c) => n + c.malformed, 0),
    eventsDropped: subscriptions.reduce((s, x) => s + x.stats().dropped, 0),
    broadcasts: broadcasts.senders,
    broadcastsDropped: services.reduce((s, x) => s + x.stats.droppedBroadcasts, 0),
    served,
    tunnel: load.tunnel === undefined ? undefined : {
      bytesSent: load.tunnel.bytesSent, bytesEchoed: load.tunnel.bytesEchoed, maxAhead: load.tunnel.maxAhead, mismatches: load.tunnel.mismatches,
      opened: load.tunnel.opened, openTimes: load.tunnel.openTimes, echoTimes: load.tunnel.echoTimes, errors: load.tunnel.errors, unechoed: load.tunnel.unechoed,
    },
  }
}

type Cmd = Command
interface StartPlan {
  requests?: Array<{ cluster: string; perSecond: number; timeoutMs: number }>
  publish?: { topic: string; perSecond: number; bytes: number }
  broadcast?: { cluster: string; perSecond: number; bytes: number }
  tunnel?: { cluster: string; messageBytes: number; openTimeoutMs: number }
}

async function run(cmd: Cmd): Promise<unknown> {
  switch (cmd.op) {
    case 'serve': {
      const perSecond = Number(cmd['tunnelBytesPerSecond'] ?? 256 * 1024)
      for (const cluster of (cmd['requests'] as string[] | undefined) ?? []) {
        services.push(await register({ port, cluster, handler: { handleRequest: (req) => { served.requests++; return `${tag}:${Buffer.from(req).toString('utf8')}` } } }))
      }
      for (const cluster of (cmd['tunnels'] as string[] | undefined) ?? []) {
        services.push(await register({ port, cluster, handler: { handleTunnel: (tun) => echo(tun, perSecond) } }))
      }
      for (const cluster of (cmd['broadcasts'] as string[] | undefined) ?? []) {
        services.push(await register({ port, cluster, handler: { handleBroadcast: (msg) => broadcasts.take(msg) } }))
      }
      return 'serving'
    }
    case 'subscribe': {
      const checker = new SequenceChecker()
      topics.set(String(cmd['topic']), checker)
      subscriptions.push(await conn.subscribe(String(cmd['topic']), { handleEvent: (ev) => checker.take(ev) }))
      return 'subscribed'
    }
    case 'start': {
      const plan = cmd as unknown as StartPlan
      load = { requests: (plan.requests ?? []).map((r) => new RequestLoop(conn, tag, r.cluster, r.timeoutMs, r.perSecond)) }
      if (plan.publish !== undefined) {
        const topic = plan.publish.topic
        load.publisher = new SequenceSender((p) => conn.publish(topic, p), tag, plan.publish.perSecond, plan.publish.bytes)
      }
      if (plan.broadcast !== undefined) {
        const cluster = plan.broadcast.cluster
        load.broadcaster = new SequenceSender((p) => conn.broadcast(cluster, p), tag, plan.broadcast.perSecond, plan.broadcast.bytes)
      }
      if (plan.tunnel !== undefined) load.tunnel = new TunnelWriter(conn, plan.tunnel.cluster, plan.tunnel.messageBytes, plan.tunnel.openTimeoutMs)
      for (const l of load.requests) l.start()
      load.publisher?.start()
      load.broadcaster?.start()
      load.tunnel?.start()
      return 'started'
    }
    case 'stop': {
      const drainMs = Number(cmd['drainMs'] ?? 30_000)
      await Promise.all([...load.requests.map((l) => l.stop()), load.publisher?.stop(), load.broadcaster?.stop(), load.tunnel?.stop(drainMs)])
      return report()
    }
    case 'report':
      return report()
    case 'status': {
      const reply = await conn.request('$herald.status', '', { timeoutMs: Number(cmd['timeoutMs'] ?? 2000) })
      return JSON.parse(Buffer.from(reply).toString('utf8'))
    }
    default:
      throw new Error(`unknown op ${cmd.op}`)
  }
}

serveCommands(run, () => process.exit(0))
