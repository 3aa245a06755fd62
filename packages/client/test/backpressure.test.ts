// Write coalescing and back-pressure in the SDK: frames of one turn leave in one socket
// write, and publish()/broadcast() wait while the socket holds more than SOCKET_HIGH_WATER.
import { describe, expect, it } from 'vitest'
import { FrameType } from '@herald/wire'
import { defaults } from '../src/index.js'
import { fakeConnection, turn } from './fake-relay.js'

describe('SDK write side', () => {
  it('1,000 publishes in one turn leave in a couple of writes (64 KiB batches), not 1,000', async () => {
    const { conn, relay } = await fakeConnection()
    const before = relay.writes
    const payload = new Uint8Array(64)
    for (let i = 0; i < 1000; i++) void conn.publish('t', payload)
    await turn()
    const writes = relay.writes - before
    const events = relay.frames.filter((f) => f.type === FrameType.publish)
    expect(events).toHaveLength(1000)
    // 1,000 frames of 6 + 1 + 64 bytes = 71,000 bytes: two 64 KiB batches.
    expect(writes).toBe(2)
    await conn.close()
  })

  it('publish() resolves at once below the high-water mark, waits above it, and resumes on drain', async () => {
    const { conn, relay } = await fakeConnection()
    expect(await Promise.race([conn.publish('t', 'x').then(() => 'resolved'), turn(1).then(() => 'pending')])).toBe('resolved')
    relay.writableLength = defaults.SOCKET_HIGH_WATER + 1
    let done = false
    const waiting = conn.publish('t', 'y').then(() => { done = true })
    const broadcast = conn.broadcast('c', 'z')
    await turn(5)
    expect(done).toBe(false)
    relay.drain()
    await waiting
    await broadcast
    expect(done).toBe(true)
    await conn.close()
  })

  it('a publish waiting for the socket does not hang when the connection drops; later ones fail with ClosedError', async () => {
    const { conn, relay } = await fakeConnection()
    relay.writableLength = defaults.SOCKET_HIGH_WATER + 1
    const waiting = conn.publish('t', 'y')
    relay.emit('close')
    await waiting // best effort: it settles, it never hangs
    await expect(conn.publish('t', 'z')).rejects.toMatchObject({ code: 'CLOSED' })
  })
})
