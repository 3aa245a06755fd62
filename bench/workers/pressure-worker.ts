/**
 * One side of bench:pressure, for Herald or NATS (the same loops, bench/workers/client.ts
 * being the only place they differ), driven by JSON commands (test/json-commands.ts):
 *
 *   node --import tsx bench/workers/pressure-worker.ts --system herald|nats --port N
 *
 *   serve     {cluster, topic, tunnelCluster?}  an echo member, a subscriber counting events in
 *                                              order, and (Herald) a tunnel member counting bytes
 *   requests  {cluster, seconds, concurrency, timeoutMs, bytes}  -> {sent, ok, errors, p50Ms, p99Ms}
 *   publish   {topic, seconds, bytes, perSecond}  at that rate (or slower, if back-pressure holds
 *                                              the publisher) -> {published, seconds}
 *   received  {}                               -> {events, outOfOrder, p50Ms, p99Ms, tunnelBytes}
 *   tunnel    {cluster, seconds, bytes}        (Herald) writes as fast as flow control allows
 *                                              -> {sent, seconds, error?} (the error if it broke)
 */
import { parseArgs } from 'node:util'
import { serveCommands } from '../../test/json-commands.js'
import { connectClient, startEchoMember, systemOf } from './client.js'

const { values } = parseArgs({ options: { system: { type: 'string' }, port: { type: 'string' } } })
const system = systemOf(values.system)
const port = Number(values.port)
const client = await connectClient(system, port)
const got = { events: 0, outOfOrder: 0, last: -1, tunnelBytes: 0, latencies: [] as number[] }
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const pct = (xs: number[], p: number): number => xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!

async function requests(cmd: Record<string, unknown>): Promise<unknown> {
  const end = Date.now() + Number(cmd['seconds']) * 1000
  const payload = new Uint8Array(Number(cmd['bytes'])).fill(0x61)
  const lat: number[] = []
  let sent = 0
  let errors = 0
  const errorNames: Record<string, number> = {}
  const one = async (): Promise<void> => {
    while (Date.now() < end) {
      const t0 = performance.now()
      sent++
      try {
        await client.request(String(cmd['cluster']), payload, Number(cmd['timeoutMs']))
        lat.push(performance.now() - t0)
      } catch (err) {
        errors++
        const name = err instanceof Error ? err.name : 'error'
        errorNames[name] = (errorNames[name] ?? 0) + 1
      }
    }
  }
  await Promise.all(Array.from({ length: Number(cmd['concurrency']) }, () => one()))
  return { sent, ok: lat.length, errors, errorNames, p50Ms: pct(lat, 50), p99Ms: pct(lat, 99) }
}

async function publish(cmd: Record<string, unknown>): Promise<unknown> {
  const topic = String(cmd['topic'])
  const payload = new Uint8Array(Number(cmd['bytes']))
  const view = new DataView(payload.buffer)
  const perSecond = Number(cmd['perSecond'])
  const t0 = Date.now()
  const end = t0 + Number(cmd['seconds']) * 1000
  let published = 0
  while (Date.now() < end) {
    const due = t0 + (published * 1000) / perSecond
    if (due > Date.now()) await sleep(due - Date.now())
    // The sequence number, then the send time: the subscriber checks order and measures delay.
    view.setUint32(0, published)
    view.setFloat64(4, Date.now())
    const wait = client.publish(topic, payload)
    published++
    if (wait !== undefined) await wait
  }
  return { published, seconds: (Date.now() - t0) / 1000 }
}

async function tunnel(cmd: Record<string, unknown>): Promise<unknown> {
  const { connect } = await import('@herald/client')
  const conn = await connect({ port })
  const t0 = Date.now()
  const end = t0 + Number(cmd['seconds']) * 1000
  const msg = new Uint8Array(Number(cmd['bytes']))
  let sent = 0
  try {
    const tun = await conn.tunnel(String(cmd['cluster']), { timeoutMs: 30_000 })
    while (Date.now() < end) {
      await tun.send(msg, { timeoutMs: 60_000 })
      sent += msg.length
    }
    await tun.close().catch(() => {})
    return { sent, seconds: (Date.now() - t0) / 1000 }
  } catch (err) {
    // A tunnel that breaks is a result too: when, and how.
    return { sent, seconds: (Date.now() - t0) / 1000, error: err instanceof Error ? err.name : String(err) }
  } finally {
    await conn.close()
  }
}

serveCommands(async (cmd) => {
  switch (cmd.op) {
    case 'serve': {
      await startEchoMember(system, port, String(cmd['cluster']), () => {})
      await client.subscribe(String(cmd['topic']), (ev) => {
        const view = new DataView(ev.buffer, ev.byteOffset, ev.byteLength)
        const seq = view.getUint32(0)
        if (got.latencies.length < 1_000_000) got.latencies.push(Date.now() - view.getFloat64(4))
        if (seq <= got.last) got.outOfOrder++
        got.last = seq
        got.events++
      }, 256 * 1024 * 1024)
      if (cmd['tunnelCluster'] !== undefined) {
        const { register } = await import('@herald/client')
        await register({ port, cluster: String(cmd['tunnelCluster']), handler: { async handleTunnel(tun) { for await (const m of tun) got.tunnelBytes += m.length } } })
      }
      return 'serving'
    }
    case 'requests': return requests(cmd)
    case 'publish': return publish(cmd)
    case 'tunnel': return tunnel(cmd)
    case 'received': return { events: got.events, outOfOrder: got.outOfOrder, p50Ms: pct(got.latencies, 50), p99Ms: pct(got.latencies, 99), tunnelBytes: got.tunnelBytes }
    default: throw new Error(`unknown op ${cmd.op}`)
  }
}, () => process.exit(0))
