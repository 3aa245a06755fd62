// The metrics endpoint of relays in memory (a real HTTP listener on loopback, the real SDK on
// in-process connections): counters equal what the clients did, label sets stay bounded and
// safe, health and readiness, and listeners that cannot be bound.
import { createServer } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { HeraldError } from '@herald/client'
import { HttpListenError, parseHostPort, ManualClock, MemoryNetwork, createRelay, labelValue, MAX_LABEL_LENGTH, silentLogger } from '../src/index.js'
import { duplicates, labelValues, parseExposition, valueOf, type Sample } from './support/exposition.js'
import { memoryAddr, memoryRelays, turns, type MemoryRelays } from './support/memory-relays.js'

let m: MemoryRelays | undefined
afterEach(async () => {
  await m?.stop()
  m = undefined
})

async function scrape(url: string | undefined): Promise<{ text: string; samples: Sample[] }> {
  const res = await fetch(`${url!}/metrics`)
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
  const text = await res.text()
  return { text, samples: parseExposition(text) }
}

/** Runs the clock until `p` settles; its outcome (or error). */
async function settle<T>(x: MemoryRelays, p: Promise<T>): Promise<PromiseSettledResult<T>> {
  let done = false
  const q = Promise.allSettled([p]).finally(() => { done = true })
  await x.runUntil(() => done, 'the calls to settle', 60_000)
  return (await q)[0]!
}

describe('metrics: what the relay counts', () => {
  it('requests by cluster and outcome, their latency, and events by topic equal what the clients did', async () => {
    const x = m = await memoryRelays(1, { init: () => ({ metrics: '127.0.0.1:0' }) })
    await x.member(0, { cluster: 'math', handler: { handleRequest: (r) => r } })
    await x.member(0, { cluster: 'failing', handler: { handleRequest: () => { throw new Error('no') } } })
    await x.member(0, { cluster: 'slow', handler: { handleRequest: () => new Promise<Uint8Array>(() => {}) } })
    const got = [0, 0]
    for (const i of [0, 1]) await (await x.client(0)).subscribe('news', { handleEvent: () => { got[i]!++ } })
    const c = await x.client(0)
    const N = 300
    for (let i = 0; i < N; i++) await c.publish('news', `e${i}`)
    const calls = [
      ...Array.from({ length: 40 }, () => c.request('math', 'x', { timeoutMs: 5000 })),
      ...Array.from({ length: 6 }, () => c.request('failing', 'x', { timeoutMs: 5000 })),
      ...Array.from({ length: 4 }, () => c.request('nobody', 'x', { timeoutMs: 5000 })),
      ...Array.from({ length: 3 }, () => c.request('slow', 'x', { timeoutMs: 100 })),
    ]
    const results = await settle(x, Promise.allSettled(calls))
    const outcomes = (results as PromiseFulfilledResult<PromiseSettledResult<Uint8Array>[]>).value
      .map((r) => (r.status === 'fulfilled' ? 'ok' : (r.reason as HeraldError).code))
    await x.runUntil(() => got[0] === N && got[1] === N, 'both subscribers to get every event')

    const { samples } = await scrape(x.relays[0]!.metricsUrl)
    expect(duplicates(samples)).toEqual([])
    const req = (cluster: string, outcome: string): number | undefined => valueOf(samples, 'herald_requests_total', { cluster, origin: 'client', outcome })
    // What the clients saw, and what the relay counted, side by side.
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(40)
    expect(req('math', 'ok')).toBe(40)
    expect(outcomes.filter((o) => o === 'REMOTE')).toHaveLength(6)
    expect(req('failing', 'remote_error')).toBe(6)
    expect(outcomes.filter((o) => o === 'NO_MEMBERS')).toHaveLength(4)
    expect(req('nobody', 'no_members')).toBe(4)
    expect(outcomes.filter((o) => o === 'TIMEOUT')).toHaveLength(3)
    expect(req('slow', 'timeout')).toBe(3)
    expect(req('math', 'timeout')).toBe(0)
    expect(valueOf(samples, 'herald_request_duration_seconds_count', { cluster: 'math' })).toBe(40)
    expect(valueOf(samples, 'herald_request_duration_seconds_bucket', { cluster: 'math', le: '+Inf' })).toBe(40)
    expect(valueOf(samples, 'herald_events_published_total', { topic: 'news' })).toBe(N)
    expect(valueOf(samples, 'herald_events_delivered_total', { topic: 'news' })).toBe(got[0]! + got[1]!)
    expect(valueOf(samples, 'herald_events_dropped_total', { topic: 'news' })).toBe(0)
    expect(valueOf(samples, 'herald_topic_subscribers', { topic: 'news' })).toBe(2)
    expect(valueOf(samples, 'herald_cluster_members', { cluster: 'math' })).toBe(1)
    expect(valueOf(samples, 'herald_clients_connected')).toBe(6)
    // The process's own metrics come along (prom-client's defaults).
    expect(valueOf(samples, 'process_resident_memory_bytes')).toBeGreaterThan(0)
  })

  it('past the cap new names count as "other"; long and odd names are cut and escaped, never a broken line', async () => {
    const x = m = await memoryRelays(1, { init: () => ({ metrics: '127.0.0.1:0' }), limits: { maxStatsTopics: 5 } })
    const c = await x.client(0)
    const long = 'L'.repeat(255)
    const odd = 'we"ird\\na\nme'
    const names = [long, odd, 't1', 't2', 't3', 't4', 't5', 't6']
    for (const n of names) await c.publish(n, 'x')
    await x.run(100)
    const { samples } = await scrape(x.relays[0]!.metricsUrl)
    expect(duplicates(samples)).toEqual([])
    const topics = labelValues(samples, 'herald_events_published_total', 'topic').sort()
    // The cap (5) includes "other": long, odd, t1 and t2 have names of their own, t3..t6 are "other".
    expect(topics).toEqual(['L'.repeat(MAX_LABEL_LENGTH), 'other', 't1', 't2', odd.replace('\n', '\uFFFD')].sort())
    expect(valueOf(samples, 'herald_events_published_total', { topic: 'other' })).toBe(4)
  })

  it('labelValue: lone surrogates and control characters become U+FFFD; a cut never leaves half a pair', () => {
    expect(labelValue('a\uD800b')).toBe('a\uFFFDb')
    expect(labelValue('\uDC00x')).toBe('\uFFFDx')
    expect(labelValue('tab\there\u0000')).toBe('tab\uFFFDhere\uFFFD')
    expect(labelValue('😀')).toBe('😀')
    const cut = labelValue('a'.repeat(MAX_LABEL_LENGTH - 1) + '😀')
    expect(cut).toHaveLength(MAX_LABEL_LENGTH)
    expect(cut.endsWith('\uFFFD')).toBe(true)
    expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut) // encodes to UTF-8 and back unchanged
  })
})

describe('metrics: health, readiness, the listener', () => {
  it('/healthz answers; /readyz is 503 while a relay given bootstrap addresses knows nobody, 200 once it joined', async () => {
    const x = m = await memoryRelays(2, { init: () => ({ metrics: '127.0.0.1:0' }) })
    const [a, b] = x.relays as [typeof x.relays[0], typeof x.relays[0]]
    expect((await fetch(`${a.metricsUrl!}/healthz`)).status).toBe(200)
    // Relay 1 has no bootstrap: alone by design, ready at once.
    const ra = await fetch(`${a.metricsUrl!}/readyz`)
    expect([ra.status, await ra.text()]).toEqual([200, 'ready: alone (no bootstrap addresses)\n'])
    await x.runUntil(() => b.status().peers.length > 0, 'relay 2 to join')
    expect((await fetch(`${b.metricsUrl!}/readyz`)).status).toBe(200)

    const net = new MemoryNetwork()
    const lonely = createRelay({ port: false, bootstrap: [memoryAddr('nowhere')], metrics: '127.0.0.1:0', logger: silentLogger }, { overlay: net.node('lonely'), clock: new ManualClock() })
    await lonely.start()
    try {
      const r = await fetch(`${lonely.metricsUrl!}/readyz`)
      expect([r.status, await r.text()]).toEqual([503, 'not ready: no other relay known yet (joining through the bootstrap addresses)\n'])
    } finally {
      await lonely.stop()
    }
  })

  it('parseHostPort: HOST:PORT, [IPv6]:PORT, or a bare PORT on loopback; nothing else', () => {
    expect(parseHostPort('10.0.0.5:9464')).toEqual({ host: '10.0.0.5', port: 9464 })
    expect(parseHostPort('[::1]:0')).toEqual({ host: '::1', port: 0 })
    expect(parseHostPort('localhost:80')).toEqual({ host: 'localhost', port: 80 })
    expect(parseHostPort('9464')).toEqual({ host: '127.0.0.1', port: 9464 })
    for (const bad of ['', ':9464', '127.0.0.1', '127.0.0.1:', '127.0.0.1:65536', '::1:80', 'a b:1', '[::1]', 'http://x:1']) expect(parseHostPort(bad)).toBeUndefined()
  })

  it('only GET of known paths: 404 elsewhere, 405 for other methods', async () => {
    const x = m = await memoryRelays(1, { init: () => ({ metrics: '127.0.0.1:0' }) })
    const url = x.relays[0]!.metricsUrl!
    expect((await fetch(`${url}/nope`)).status).toBe(404)
    expect((await fetch(`${url}/`)).status).toBe(404) // no dashboard without --ui
    const post = await fetch(`${url}/metrics`, { method: 'POST' })
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD'])
  })

  it('an address in use, or malformed, fails start() with one clear sentence, before the overlay starts', async () => {
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()))
    const port = (busy.address() as { port: number }).port
    try {
      const net = new MemoryNetwork()
      const node = net.node('a')
      let overlayStarted = false
      const overlay = new Proxy(node, {
        get(target, prop) {
          if (prop === 'start') return (...args: Parameters<typeof node.start>) => { overlayStarted = true; return target.start(...args) }
          const v = Reflect.get(target, prop) as unknown
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
        },
      })
      const relay = createRelay({ port: false, metrics: `127.0.0.1:${port}`, logger: silentLogger }, { overlay, clock: new ManualClock() })
      const err = await relay.start().then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(HttpListenError)
      expect((err as Error).message).toBe(`cannot serve --metrics on 127.0.0.1:${port}: the address is in use`)
      expect(overlayStarted).toBe(false)
      const bad = createRelay({ port: false, ui: 'nonsense', logger: silentLogger }, { overlay: net.node('c'), clock: new ManualClock() })
      await expect(bad.start()).rejects.toThrow('--ui nonsense: expected HOST:PORT or PORT (e.g. 127.0.0.1:9464, [::1]:9464, 9464)')
    } finally {
      busy.close()
      await turns()
    }
  })
})
