/**
 * The one place the worker processes touch a messaging library: the same worker loops run
 * against Herald (@herald/client) or NATS (nats.js), so both get exactly the same treatment.
 * nats.js is imported only by NATS workers.
 */
import type { NatsConnection } from 'nats'

export type System = 'herald' | 'nats'

export interface BenchClient {
  /**
   * Publishes one event. Returns a promise only when the caller must wait (backpressure);
   * `undefined` means "go on". The caller hands the payload over: it never writes to those
   * bytes again (see payloads.ts), so neither adapter copies it.
   */
  publish(topic: string, payload: Uint8Array): Promise<void> | undefined
  /** Subscribes with a synchronous handler; `memory` bounds what is buffered for it (Herald). */
  subscribe(topic: string, onEvent: (ev: Uint8Array) => void, memory: number): Promise<{ dropped(): number }>
  request(cluster: string, payload: Uint8Array, timeoutMs: number): Promise<Uint8Array>
  /** Flushes what is queued and closes. */
  close(): Promise<void>
}

export interface BenchMember {
  close(): Promise<void>
}

export function systemOf(v: string | undefined): System {
  if (v === 'herald' || v === 'nats') return v
  throw new Error(`--system must be herald or nats, got ${String(v)}`)
}

export async function connectClient(system: System, port: number): Promise<BenchClient> {
  return system === 'herald' ? heraldClient(port) : natsClient(port)
}

/** Joins `cluster` as a member that answers every request with its own bytes. */
export async function startEchoMember(system: System, port: number, cluster: string, onRequest: () => void): Promise<BenchMember> {
  if (system === 'herald') {
    const { register } = await import('@herald/client')
    const svc = await register({ port, cluster, handler: { handleRequest(req) { onRequest(); return req } } })
    return { close: () => svc.close() }
  }
  const nc = await natsConnect(port)
  // A queue group: each request goes to one member of the group, like a Herald cluster.
  nc.subscribe(cluster, { queue: 'members', callback: (err, msg) => { if (err === null) { onRequest(); msg.respond(msg.data) } } })
  await nc.flush() // the server has the subscription once the PONG is back
  return { close: async () => { await nc.drain() } }
}

async function heraldClient(port: number): Promise<BenchClient> {
  const { connect } = await import('@herald/client')
  const conn = await connect({ port })
  return {
    // publish() resolves at once unless the SDK's socket buffer is backed up (> 4 MiB queued).
    // The SDK copies the payload into its 64 KiB write batch (its one copy).
    publish: (topic, payload) => conn.publish(topic, payload),
    async subscribe(topic, onEvent, memory) {
      const sub = await conn.subscribe(topic, { handleEvent: onEvent }, { memory })
      return { dropped: () => sub.stats().dropped }
    },
    request: (cluster, payload, timeoutMs) => conn.request(cluster, payload, { timeoutMs }),
    close: () => conn.close(),
  }
}

/**
 * nats.js as its authors configure it for speed (their examples/bench.js): `noAsyncTraces`,
 * so no Error (with its stack) is created per request to enrich a timeout that never comes.
 * The rest are defaults: callbacks rather than async iterators (the bench's fast path), the
 * shared response inbox (one subscription for all requests), a 32 KiB outbound flush
 * threshold. `maxReconnectAttempts: 0`: a lost connection must fail the run, not hide in it.
 */
async function natsConnect(port: number): Promise<NatsConnection> {
  const { connect } = await import('nats')
  return connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0, noAsyncTraces: true })
}

/**
 * nats.js publish() is synchronous and buffers without limit, so the publisher needs its own
 * backpressure to be comparable with Herald's 4 MiB socket high-water mark: every 2 MiB of
 * outgoing bytes it sends a PING (flush()) and waits for the previous one's PONG, so at most
 * ~4 MiB is ever unacknowledged. nats.js keeps a reference to the payload until its next
 * write, where it concatenates the pending payloads (its one copy); the payload is passed as
 * is, since the publisher never reuses those bytes.
 */
const NATS_FLUSH_EVERY = 2 * 1024 * 1024

async function natsClient(port: number): Promise<BenchClient> {
  const nc = await natsConnect(port)
  let unflushed = 0
  let inFlight: Promise<void> | undefined
  return {
    publish(topic, payload) {
      nc.publish(topic, payload)
      unflushed += payload.length + topic.length + 16
      if (unflushed < NATS_FLUSH_EVERY) return undefined
      unflushed = 0
      const previous = inFlight
      inFlight = nc.flush()
      return previous
    },
    subscribe(topic, onEvent) {
      nc.subscribe(topic, { callback: (err, msg) => { if (err === null) onEvent(msg.data) } })
      return nc.flush().then(() => ({ dropped: () => 0 }))
    },
    async request(cluster, payload, timeoutMs) {
      const msg = await nc.request(cluster, payload, { timeout: timeoutMs })
      return msg.data
    },
    async close() {
      await nc.flush()
      await nc.close()
    },
  }
}
