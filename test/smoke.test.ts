import { afterAll, describe, expect, it } from 'vitest'
import { connect, register } from '@herald/client'
import { killAll, startRelay } from './harness.js'

afterAll(killAll)

describe('smoke', () => {
  it('request/reply through a real relay', async () => {
    const relay = await startRelay()
    const svc = await register({ port: relay.port, cluster: 'databases', handler: { handleRequest: (r) => r } })
    const conn = await connect({ port: relay.port })
    const reply = await conn.request('databases', 'hello')
    expect(Buffer.from(reply).toString()).toBe('hello')
    await conn.close()
    await svc.close()
  })
})
