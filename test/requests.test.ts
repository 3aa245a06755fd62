/**
 * Request/reply end to end through real relay processes: replies, remote errors, typed
 * failures (no members, timeout, too large, member lost), load balancing, member
 * concurrency limits, and clients that drop with requests in flight.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  connect, register, MemberLostError, MessageTooLargeError, NoMembersError, RemoteError, TimeoutError,
  type Connection, type Service,
} from '@herald/client'
import { killAll, spawnCli, startRelay, until, type RelayProc } from './harness.js'
import { deferred, relayStatus, text } from './patterns-helpers.js'

let relay: RelayProc

beforeAll(async () => {
  relay = await startRelay()
})
afterAll(killAll)

/** Runs `fn` with a client connection, closing it afterwards. */
async function withConn<T>(fn: (conn: Connection) => Promise<T>, port = relay.port): Promise<T> {
  const conn = await connect({ port })
  try {
    return await fn(conn)
  } finally {
    await conn.close()
  }
}

async function closeAll(svcs: Service[]): Promise<void> {
  await Promise.all(svcs.map((s) => s.close()))
}

describe('request/reply', () => {
  it('returns the reply of a member (sync and async handlers, strings and bytes, empty payloads)', async () => {
    const sync = await register({ port: relay.port, cluster: 'rr-sync', handler: { handleRequest: (r) => `sync:${text(r)}` } })
    const asy = await register({
      port: relay.port, cluster: 'rr-async',
      handler: { async handleRequest(r) { await Promise.resolve(); return new Uint8Array([...r].reverse()) } },
    })
    const empty = await register({ port: relay.port, cluster: 'rr-empty', handler: { handleRequest: () => undefined } })
    try {
      await withConn(async (conn) => {
        expect(text(await conn.request('rr-sync', 'hello'))).toBe('sync:hello')
        expect(text(await conn.request('rr-sync', ''))).toBe('sync:')
        expect([...await conn.request('rr-async', new Uint8Array([1, 2, 3]))]).toEqual([3, 2, 1])
        const nothing = await conn.request('rr-empty', new Uint8Array(0))
        expect(nothing).toBeInstanceOf(Uint8Array)
        expect(nothing.length).toBe(0)
      })
    } finally {
      await closeAll([sync, asy, empty])
    }
  })

  it('a handler that throws reaches the caller as RemoteError carrying its message', async () => {
    const svc = await register({
      port: relay.port, cluster: 'rr-throws',
      handler: {
        handleRequest(r) {
          if (text(r) === 'async') return Promise.reject(new Error('async handler failed: disk full'))
          throw new Error('sync handler failed: no such row')
        },
      },
    })
    try {
      await withConn(async (conn) => {
        const e1 = await conn.request('rr-throws', 'sync').catch((e: unknown) => e)
        expect(e1).toBeInstanceOf(RemoteError)
        expect((e1 as RemoteError).code).toBe('REMOTE')
        expect((e1 as RemoteError).message).toBe('sync handler failed: no such row')
        const e2 = await conn.request('rr-throws', 'async').catch((e: unknown) => e)
        expect(e2).toBeInstanceOf(RemoteError)
        expect((e2 as RemoteError).message).toBe('async handler failed: disk full')
      })
      // The member carries on after its handler threw.
      expect(svc.stats.failedRequests).toBe(2)
    } finally {
      await svc.close()
    }
  })

  it('rejects with NoMembersError when the cluster has no member (never had one, or the last one left)', async () => {
    await withConn(async (conn) => {
      const e = await conn.request('rr-nobody', 'x', { timeoutMs: 5000 }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(NoMembersError)
      expect((e as NoMembersError).code).toBe('NO_MEMBERS')

      const svc = await register({ port: relay.port, cluster: 'rr-left', handler: { handleRequest: () => 'here' } })
      expect(text(await conn.request('rr-left', 'x'))).toBe('here')
      // close() says goodbye and waits for the relay to close its side: the member is gone.
      await svc.close()
      await expect(conn.request('rr-left', 'x', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoMembersError)
    })
  })

  it('rejects with TimeoutError when the handler never answers', async () => {
    const called = deferred()
    const svc = await register({
      port: relay.port, cluster: 'rr-silent',
      handler: { handleRequest: () => { called.resolve(); return new Promise<never>(() => {}) } },
    })
    try {
      await withConn(async (conn) => {
        const t0 = performance.now()
        const e = await conn.request('rr-silent', 'anyone?', { timeoutMs: 200 }).catch((err: unknown) => err)
        const elapsed = performance.now() - t0
        await called.promise
        expect(e).toBeInstanceOf(TimeoutError)
        expect((e as TimeoutError).code).toBe('TIMEOUT')
        // Not before its deadline (a few ms of timer slack), and not long after it.
        expect(elapsed).toBeGreaterThanOrEqual(195)
        expect(elapsed).toBeLessThan(1200)
        // The connection is fine afterwards.
        expect((await relayStatus(conn)).clients).toBeGreaterThan(0)
      })
    } finally {
      await svc.close()
    }
  })

  it('throws MessageTooLargeError before sending a payload over conn.maxMessageBytes', async () => {
    const small = await startRelay(['--max-message', '1024'])
    let seen = 0
    const svc = await register({ port: small.port, cluster: 'rr-size', handler: { handleRequest: (r) => { seen++; return String(r.length) } } })
    try {
      await withConn(async (conn) => {
        expect(conn.maxMessageBytes).toBe(1024)
        const before = (await relayStatus(conn)).counters['requests'] as number
        expect(text(await conn.request('rr-size', new Uint8Array(1024)))).toBe('1024')

        const e = await conn.request('rr-size', new Uint8Array(1025)).catch((err: unknown) => err)
        expect(e).toBeInstanceOf(MessageTooLargeError)
        expect((e as MessageTooLargeError).code).toBe('TOO_LARGE')
        // Strings count in UTF-8 bytes: 512 x "é" is 1024 bytes and fits, one more does not.
        expect(text(await conn.request('rr-size', 'é'.repeat(512)))).toBe('1024')
        await expect(conn.request('rr-size', 'é'.repeat(513))).rejects.toBeInstanceOf(MessageTooLargeError)
        // The other patterns check too.
        await expect(conn.broadcast('rr-size', new Uint8Array(2000))).rejects.toBeInstanceOf(MessageTooLargeError)
        await expect(conn.publish('rr-size-topic', new Uint8Array(2000))).rejects.toBeInstanceOf(MessageTooLargeError)

        // Nothing oversized went out: the relay counted only the two requests that fit (status
        // requests are the relay's own and not counted), and the connection was not closed.
        const after = await relayStatus(conn)
        expect(after.counters['requests']).toBe(before + 2)
        expect(seen).toBe(2)
        expect(text(await conn.request('rr-size', 'still fine'))).toBe('10')
      }, small.port)
    } finally {
      await svc.close()
    }
  })

  it('spreads 3,000 requests (32 in flight) over 3 members, each answering 25-42%', async () => {
    const counts = [0, 0, 0]
    const svcs = await Promise.all(counts.map((_, i) => register({
      port: relay.port, cluster: 'rr-balance',
      handler: { handleRequest: (r) => { counts[i]!++; return r } },
    })))
    try {
      await withConn(async (conn) => {
        const total = 3000
        let next = 0
        const worker = async (): Promise<void> => {
          while (next < total) {
            const n = next++
            const reply = await conn.request('rr-balance', String(n), { timeoutMs: 10_000 })
            expect(text(reply)).toBe(String(n))
          }
        }
        await Promise.all(Array.from({ length: 32 }, worker))
        expect(counts.reduce((a, b) => a + b, 0)).toBe(total)
        for (const c of counts) {
          expect(c / total).toBeGreaterThanOrEqual(0.25)
          expect(c / total).toBeLessThanOrEqual(0.42)
        }
      })
    } finally {
      await closeAll(svcs)
    }
  })

  it('requestConcurrency: 1 never runs two handler calls at once, and all requests succeed', async () => {
    let running = 0
    let maxRunning = 0
    let calls = 0
    const svc = await register({
      port: relay.port, cluster: 'rr-serial', limits: { requestConcurrency: 1 },
      handler: {
        async handleRequest(r) {
          calls++
          running++
          maxRunning = Math.max(maxRunning, running)
          await new Promise((res) => setTimeout(res, 50)) // the handler's own (simulated) work
          running--
          return r
        },
      },
    })
    try {
      await withConn(async (conn) => {
        const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => conn.request('rr-serial', `r${i}`, { timeoutMs: 10_000 })))
        expect(replies.map(text)).toEqual(Array.from({ length: 20 }, (_, i) => `r${i}`))
      })
      expect(calls).toBe(20)
      expect(maxRunning).toBe(1)
    } finally {
      await svc.close()
    }
  })
})

describe('request/reply failures of members and clients', () => {
  it('a member killed with SIGKILL: each in-flight request rejects with MemberLostError within 1 s', async () => {
    const member = spawnCli(['serve', 'slow', '--exec', 'sleep 30', '--port', String(relay.port)])
    await member.waitFor(/serving/)
    await withConn(async (conn) => {
      const n = 5
      const settled = Array.from({ length: n }, (_, i) => conn.request('slow', `job ${i}`, { timeoutMs: 30_000 }).then(
        () => ({ err: undefined as unknown, at: performance.now() }),
        (err: unknown) => ({ err, at: performance.now() }),
      ))
      // All n are at the member (its concurrency is 16): only visible by asking the relay.
      await until(async () => (await relayStatus(conn)).clusters.find((c) => c.name === 'slow')?.outstanding === n, 10_000, 'requests in flight at the member')
      const killedAt = performance.now()
      member.kill('SIGKILL')
      const results = await Promise.all(settled)
      for (const r of results) {
        expect(r.err).toBeInstanceOf(MemberLostError)
        expect((r.err as MemberLostError).code).toBe('MEMBER_LOST')
        expect(r.at - killedAt).toBeLessThan(1000)
      }
      await member.exited
      // The relay forgot the member: a new request fails fast as "no members".
      await expect(conn.request('slow', 'again', { timeoutMs: 5000 })).rejects.toBeInstanceOf(NoMembersError)
    })
  })

  it('a client closing while its request is in flight breaks neither the member nor the relay', async () => {
    const gate = deferred()
    const started = deferred()
    let handled = 0
    let dropped = false
    const svc = await register({
      port: relay.port, cluster: 'rr-gone', limits: { requestConcurrency: 1 },
      handler: {
        async handleRequest(r) {
          handled++
          if (text(r) === 'first') {
            started.resolve()
            await gate.promise
          }
          return `ok:${text(r)}`
        },
        handleDrop: () => { dropped = true },
      },
    })
    try {
      const leaver = await connect({ port: relay.port })
      const lost = leaver.request('rr-gone', 'first', { timeoutMs: 30_000 }).catch((e: unknown) => e)
      await started.promise
      await leaver.close()
      expect(await lost).toMatchObject({ code: 'CLOSED' })
      gate.resolve() // the member answers a request whose client is gone

      await withConn(async (conn) => {
        // The member's only slot came back, so a later request is served.
        expect(text(await conn.request('rr-gone', 'later', { timeoutMs: 5000 }))).toBe('ok:later')
        const st = await relayStatus(conn)
        expect(st.clusters.find((c) => c.name === 'rr-gone')).toMatchObject({ members: 1, outstanding: 0, queued: 0 })
      })
      expect(handled).toBe(2)
      expect(dropped).toBe(false)
    } finally {
      await svc.close()
    }
  })

  it('a client process killed (SIGKILL) with requests in flight and queued breaks neither the member nor the relay', async () => {
    const gate = deferred()
    const started = deferred()
    const seen: string[] = []
    const svc = await register({
      port: relay.port, cluster: 'rr-killed', limits: { requestConcurrency: 1 },
      handler: {
        async handleRequest(r) {
          seen.push(text(r))
          if (text(r) === 'from-cli') {
            started.resolve()
            await gate.promise
          }
          return `ok:${text(r)}`
        },
      },
    })
    try {
      const cli = spawnCli(['request', 'rr-killed', 'from-cli', '--timeout', '30000', '--port', String(relay.port)])
      await started.promise // the CLI's request is at the member
      // A second client's request waits in the relay's queue behind it (the slot is taken).
      const other = await connect({ port: relay.port })
      const queued = other.request('rr-killed', 'queued', { timeoutMs: 30_000 })
      await until(async () => (await relayStatus(other)).clusters.find((c) => c.name === 'rr-killed')?.queued === 1, 5000, 'a queued request')
      cli.kill('SIGKILL')
      expect(await cli.exited).toBe('SIGKILL')
      await until(async () => (await relayStatus(other)).clients === 2, 5000, 'the relay to notice the killed client')
      gate.resolve()
      expect(text(await queued)).toBe('ok:queued')
      expect(text(await other.request('rr-killed', 'later', { timeoutMs: 5000 }))).toBe('ok:later')
      expect(seen).toEqual(['from-cli', 'queued', 'later'])
      await other.close()
    } finally {
      await svc.close()
    }
  })
})
