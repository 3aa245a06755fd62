// The SDK's subscription queue: bounded in bytes (drops counted), one handler call at a time
// in publish order, or an async iterator; unsubscribe, drain, closed, and disposal.
import { describe, expect, it } from 'vitest'
import { ErrorCode, FrameType, type Frame } from '@herald/wire'
import { TimeoutError, type Connection, type Subscription } from '../src/index.js'
import { fakeConnection, turn, type FakeRelaySocket } from './fake-relay.js'

const ev = (topic: string, n: number, size = 8): Frame => {
  const payload = new Uint8Array(size)
  new DataView(payload.buffer).setUint32(0, n, true)
  return { type: FrameType.event, topic, payload }
}
const num = (b: Uint8Array): number => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0, true)

async function subscribed(conn: Connection, relay: FakeRelaySocket, ...args: Parameters<Connection['subscribe']>): Promise<Subscription> {
  const p = conn.subscribe(...args)
  const f = await relay.next(FrameType.subscribe)
  relay.reply({ type: FrameType.ack, seq: f.seq, code: ErrorCode.ok, message: '' })
  return p
}

describe('subscription queue', () => {
  it('a handler sees events one at a time, in order; past its memory limit events are dropped and counted', async () => {
    const { conn, relay } = await fakeConnection()
    const seen: number[] = []
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    const sub = await subscribed(conn, relay, 't', {
      async handleEvent(e) {
        seen.push(num(e))
        if (seen.length === 1) await gate // the first call holds the handler
      },
    }, { memory: 32 })
    // Event 0 runs the handler; 1..4 queue (4 x 8 bytes = the 32-byte limit); 5 and 6 are dropped.
    relay.reply(...Array.from({ length: 7 }, (_, i) => ev('t', i)))
    await turn()
    expect(seen).toEqual([0])
    expect(sub.stats()).toEqual({ delivered: 1, dropped: 2, rejected: 0, queuedBytes: 32 })
    release()
    await turn()
    expect(seen).toEqual([0, 1, 2, 3, 4])
    expect(sub.stats()).toMatchObject({ delivered: 5, dropped: 2, queuedBytes: 0 })
    // What the relay dropped for this subscription counts too.
    relay.reply({ type: FrameType.dropped, topic: 't', count: 10 })
    await turn()
    expect(sub.stats().dropped).toBe(12)
    await conn.close()
  })

  it('an iterated subscription keeps what nobody read yet, within its limit, and hands it out in order', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = await subscribed(conn, relay, 't', undefined, { memory: 24 })
    relay.reply(...Array.from({ length: 5 }, (_, i) => ev('t', i)))
    await turn()
    expect(sub.stats()).toMatchObject({ dropped: 2, queuedBytes: 24 })
    relay.autoAck = true
    const got: number[] = []
    for await (const e of sub) {
      got.push(num(e))
      if (got.length === 3) break // break unsubscribes
    }
    expect(got).toEqual([0, 1, 2])
    expect(sub.isClosed).toBe(true)
    expect(await sub.closed).toBeUndefined()
    expect(relay.frames.some((f) => f.type === FrameType.unsubscribe)).toBe(true)
  })

  it('next({ timeoutMs }) gives up with TimeoutError and the subscription stays usable', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = await subscribed(conn, relay, 't')
    await expect(sub.next({ timeoutMs: 20 })).rejects.toBeInstanceOf(TimeoutError)
    relay.reply(ev('t', 9))
    expect(num((await sub.next({ timeoutMs: 5000 })).value as Uint8Array)).toBe(9)
    await conn.close()
  })

  it('unsubscribe(): no more events are taken; what was queued can still be read, then done', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = await subscribed(conn, relay, 't')
    relay.reply(ev('t', 1), ev('t', 2))
    await turn()
    const unsubscribed = sub.unsubscribe()
    const f = await relay.next(FrameType.unsubscribe)
    relay.reply(ev('t', 3), { type: FrameType.ack, seq: f.seq, code: ErrorCode.ok, message: '' })
    await unsubscribed
    const rest: number[] = []
    for (let r = await sub.next(); r.done !== true; r = await sub.next()) rest.push(num(r.value))
    expect(rest).toEqual([1, 2])
  })

  it('drain(): events the relay sent before confirming are still handled, then it ends; later ones are not', async () => {
    const { conn, relay } = await fakeConnection()
    const seen: number[] = []
    const sub = await subscribed(conn, relay, 't', { async handleEvent(e) { await turn(1); seen.push(num(e)) } })
    const draining = sub.drain()
    const f = await relay.next(FrameType.unsubscribe)
    expect(sub.isClosed).toBe(false)
    // Sent by the relay before it processed the UNSUBSCRIBE: they precede its ACK.
    relay.reply(ev('t', 1), ev('t', 2), ev('t', 3), { type: FrameType.ack, seq: f.seq, code: ErrorCode.ok, message: '' }, ev('t', 4))
    await draining
    expect(seen).toEqual([1, 2, 3])
    expect(sub.isClosed).toBe(true)
    expect(await sub.closed).toBeUndefined()
    await turn()
    expect(seen).toEqual([1, 2, 3])
    await conn.close()
  })

  it('Symbol.asyncDispose unsubscribes', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = await subscribed(conn, relay, 't')
    const disposing = sub[Symbol.asyncDispose]()
    const f = await relay.next(FrameType.unsubscribe)
    relay.reply({ type: FrameType.ack, seq: f.seq, code: ErrorCode.ok, message: '' })
    await disposing
    expect(sub.isClosed).toBe(true)
    await conn.close()
  })

  it('a lost connection ends the subscription: closed resolves with the error, an iterator is done', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = await subscribed(conn, relay, 't')
    const pending = sub.next()
    relay.emit('close')
    expect(await pending).toEqual({ value: undefined, done: true })
    expect(await sub.closed).toMatchObject({ code: 'CLOSED' })
    expect(sub.error).toMatchObject({ code: 'CLOSED' })
    expect(await conn.closed).toMatchObject({ code: 'CLOSED' })
  })
})
