import { afterAll, describe, expect, it } from 'vitest'
import { connect, register } from '@herald/client'
import { killAll, startRelay } from './harness.js'

afterAll(killAll)

const text = (b: Uint8Array): string => Buffer.from(b).toString('utf8')

describe('graceful leaving', () => {
  it('svc.close() answers what is in flight, and new requests go to the other members', async () => {
    const relay = await startRelay()
    let release!: () => void
    const started = new Promise<void>((resolve) => {
      release = resolve
    })
    let finish!: () => void
    const gate = new Promise<void>((resolve) => { finish = resolve })
    const a = await register({
      port: relay.port, cluster: 'c', limits: { requestConcurrency: 1 },
      handler: { async handleRequest() { release(); await gate; return 'from-a' } },
    })
    const b = await register({ port: relay.port, cluster: 'c', handler: { handleRequest: () => 'from-b' } })
    const conn = await connect({ port: relay.port })
    // Requests go to the least loaded member; keep sending until A holds one.
    const first = conn.request('c', 'x', { timeoutMs: 10_000 })
    const second = conn.request('c', 'y', { timeoutMs: 10_000 })
    await started
    const closing = a.close()
    // While A drains, new requests are served by B only.
    for (let i = 0; i < 5; i++) expect(text(await conn.request('c', 'z'))).toBe('from-b')
    finish()
    await closing
    const answers = (await Promise.all([first, second])).map(text).sort()
    expect(answers).toEqual(['from-a', 'from-b'])
    await conn.close()
    await b.close()
  })

  it('a relay stopped with SIGTERM answers in-flight requests before exiting 0', async () => {
    const relay = await startRelay()
    let release!: () => void
    const started = new Promise<void>((resolve) => { release = resolve })
    const svc = await register({
      port: relay.port, cluster: 'slow',
      handler: { async handleRequest() { release(); await new Promise((r) => setTimeout(r, 300)); return 'done' } },
    })
    const conn = await connect({ port: relay.port })
    const pending = conn.request('slow', 'x', { timeoutMs: 10_000 })
    await started
    relay.kill('SIGTERM')
    expect(text(await pending)).toBe('done')
    expect(await relay.exited).toBe(0)
    await conn.close().catch(() => {})
    await svc.close().catch(() => {})
  })
})

describe('losing the relay', () => {
  it('a killed relay: the member hears handleDrop, pending calls reject, subscriptions end', async () => {
    const relay = await startRelay()
    let dropReason: Error | undefined
    const dropped = new Promise<void>((resolve) => {
      void register({
        port: relay.port, cluster: 'doomed',
        handler: { handleRequest: () => new Promise(() => {}), handleDrop: (r) => { dropReason = r; resolve() } },
      })
    })
    const conn = await connect({ port: relay.port })
    let connDrop: Error | undefined
    const conn2 = await connect({ port: relay.port, onDrop: (r) => { connDrop = r } })
    const sub = await conn2.subscribe('t')
    const ended = (async () => { for await (const _ of sub) { /* none */ } })()
    await new Promise<void>((resolve) => {
      // Wait until the member is registered (a request reaches it and stays pending).
      const poll = (): void => {
        conn.request('$herald.status', '').then((b) => {
          if (Buffer.from(b).toString().includes('"doomed"')) resolve()
          else setTimeout(poll, 20)
        }, () => setTimeout(poll, 20))
      }
      poll()
    })
    const pending = conn.request('doomed', 'x', { timeoutMs: 30_000 })
    relay.kill('SIGKILL')
    await expect(pending).rejects.toMatchObject({ code: 'CLOSED' })
    await dropped
    expect(dropReason).toMatchObject({ code: 'CLOSED' })
    await ended
    expect(connDrop).toMatchObject({ code: 'CLOSED' })
    expect(await conn2.closed).toMatchObject({ code: 'CLOSED' })
    await expect(conn.publish('t', 'x')).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
