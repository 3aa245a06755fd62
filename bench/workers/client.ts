/**
 * The one place the worker processes touch a messaging library: the same worker loops run
 * against Herald (@herald/client) or NATS (nats.js), so both get exactly the same treatment.
 * nats.js is imported only by NATS workers.
 */

export type System = 'herald' | 'nats'

export interface BenchClient {
  /**
   * Publishes one event. Returns a promise only when the caller must wait (backpressure);
   * `undefined` means "go on". The payload buffer may be reused by the caller afterwards.
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
  const { connect } = await import('nats')
  const nc = await connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0 })
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
    // The SDK copies the payload into its write batch, so the caller may reuse the buffer.
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
 * nats.js publish() is synchronous and buffers without limit, so the publisher needs its own
 * backpressure to be comparable with Herald's 4 MiB socket high-water mark: every 2 MiB of
 * outgoing bytes it sends a PING (flush()) and waits for the previous one's PONG, so at most
 * ~4 MiB is ever unacknowledged. nats.js keeps a reference to the payload until its next
 * write (it does not copy), so the adapter copies it — as a real publisher allocating a fresh
 * buffer per message would.
 */
const NATS_FLUSH_EVERY = 2 * 1024 * 1024

async function natsClient(port: number): Promise<BenchClient> {
  const { connect } = await import('nats')
  const nc = await connect({ servers: `127.0.0.1:${port}`, maxReconnectAttempts: 0 })
  let unflushed = 0
  let inFlight: Promise<void> | undefined
  return {
    publish(topic, payload) {
      nc.publish(topic, payload.slice())
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
