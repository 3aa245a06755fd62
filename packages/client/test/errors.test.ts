// Every numeric wire code becomes one typed SDK error; a FAILURE from the relay rejects the
// request with it (never a string to parse).
import { describe, expect, it } from 'vitest'
import { ErrorCode, FrameType } from '@herald/wire'
import {
  ClosedError, HeraldError, KeyError, MemberLostError, MessageTooLargeError, NoMembersError, RemoteError, TimeoutError,
} from '../src/index.js'
import { errorFromWire } from '../src/errors.js'
import { fakeConnection } from './fake-relay.js'

const table: Array<[number, new (...a: never[]) => HeraldError, string]> = [
  [ErrorCode.timeout, TimeoutError, 'TIMEOUT'],
  [ErrorCode.remote, RemoteError, 'REMOTE'],
  [ErrorCode.noMembers, NoMembersError, 'NO_MEMBERS'],
  [ErrorCode.memberLost, MemberLostError, 'MEMBER_LOST'],
  [ErrorCode.closed, ClosedError, 'CLOSED'],
  [ErrorCode.shutdown, ClosedError, 'CLOSED'],
  [ErrorCode.tooLarge, MessageTooLargeError, 'TOO_LARGE'],
  [ErrorCode.key, KeyError, 'KEY'],
  [ErrorCode.limit, HeraldError, 'LIMIT'],
  [ErrorCode.invalid, HeraldError, 'INVALID'],
  [ErrorCode.overloaded, HeraldError, 'OVERLOADED'],
  [ErrorCode.protocol, HeraldError, 'PROTOCOL'],
  [ErrorCode.version, HeraldError, 'PROTOCOL'],
  [ErrorCode.unknown, HeraldError, 'PROTOCOL'],
  [4242, HeraldError, 'PROTOCOL'],
]

describe('error mapping', () => {
  it.each(table)('wire code %i -> %o with code %s, keeping the message', (code, cls, name) => {
    const e = errorFromWire(code, 'the message')
    expect(e).toBeInstanceOf(cls)
    expect(e).toBeInstanceOf(HeraldError)
    expect(e.code).toBe(name)
    expect(e.message).toBe('the message')
  })

  it('an empty message gets a readable default', () => {
    expect(errorFromWire(ErrorCode.noMembers, '').message).toBe('no members')
    expect(errorFromWire(999, '').message).toBe('protocol error (code 999)')
  })

  it('a FAILURE answering a request rejects it with the typed error; a REPLY resolves the other', async () => {
    const { conn, relay } = await fakeConnection()
    const failing = conn.request('db', 'a', { timeoutMs: 60_000 }).catch((e: unknown) => e)
    const fine = conn.request('db', 'b', { timeoutMs: 60_000 })
    const ra = await relay.next(FrameType.request, (f) => new TextDecoder().decode(f.payload) === 'a')
    const rb = await relay.next(FrameType.request, (f) => new TextDecoder().decode(f.payload) === 'b')
    relay.reply(
      { type: FrameType.failure, id: ra.id, code: ErrorCode.memberLost, message: 'gone' },
      { type: FrameType.reply, id: rb.id, payload: new Uint8Array([7]) },
    )
    const e = await failing
    expect(e).toBeInstanceOf(MemberLostError)
    expect((e as MemberLostError).message).toBe('gone')
    expect([...await fine]).toEqual([7])
    await conn.close()
  })

  it('an ACK with an error code rejects subscribe() with the typed error', async () => {
    const { conn, relay } = await fakeConnection()
    const sub = conn.subscribe('t').catch((e: unknown) => e)
    const f = await relay.next(FrameType.subscribe)
    relay.reply({ type: FrameType.ack, seq: f.seq, code: ErrorCode.limit, message: 'too many topics' })
    expect(await sub).toMatchObject({ code: 'LIMIT', message: 'too many topics' })
    await conn.close()
  })

  it('malformed bytes from the relay close the connection with PROTOCOL, and the SDK says why', async () => {
    const { conn, relay } = await fakeConnection()
    const pending = conn.request('db', 'x', { timeoutMs: 60_000 }).catch((e: unknown) => e)
    await relay.next(FrameType.request)
    relay.emit('data', new Uint8Array([0, 0, 0, 1, 0x7e]))
    expect(await pending).toMatchObject({ code: 'PROTOCOL' })
    expect(await conn.closed).toMatchObject({ code: 'PROTOCOL' })
    expect(relay.frames.find((f) => f.type === FrameType.error)).toMatchObject({ code: ErrorCode.protocol })
  })
})
