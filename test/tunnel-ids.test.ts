import { afterAll, expect, it } from 'vitest'
import { connect, register, type Tunnel } from '@herald/client'
import { killAll, startRelay } from './harness.js'

afterAll(killAll)

const td = new TextDecoder()
const echo = (prefix: string): { handleTunnel(t: Tunnel): Promise<void> } => ({
  async handleTunnel(t: Tunnel) { for await (const m of t) await t.send(prefix + td.decode(m)) },
})

// A connection that both opens tunnels and serves them: the ids it chose as an opener and the
// ids the relay gives it as a member must never collide (they live in separate ranges).
it('a member that also opens tunnels keeps both kinds apart', async () => {
  const relay = await startRelay()
  const a = await register({ port: relay.port, cluster: 'A', handler: echo('A:') })
  const b = await register({ port: relay.port, cluster: 'B', handler: echo('B:') })
  // Move B's id counter ahead of the relay's.
  for (let i = 0; i < 10; i++) await b.conn.request('nobody', 'x', { timeoutMs: 1000 }).catch(() => {})
  const bt = await b.conn.tunnel('A', { timeoutMs: 2000 })
  await bt.send('hello A')
  expect(td.decode(await bt.receive({ timeoutMs: 2000 }))).toBe('A:hello A')
  const c = await connect({ port: relay.port })
  for (let i = 0; i < 15; i++) {
    const t = await c.tunnel('B', { timeoutMs: 2000 })
    await t.send(`c${i}`)
    await bt.send(`private from B #${i}`)
    expect(td.decode(await t.receive({ timeoutMs: 2000 }))).toBe(`B:c${i}`)
    expect(td.decode(await bt.receive({ timeoutMs: 2000 }))).toBe(`A:private from B #${i}`)
    await t.close()
  }
  await c.close()
  await a.close()
  await b.close()
})
