/**
 * Broadcast and publish/subscribe end to end through real relay processes: delivery to every
 * member/subscriber exactly once, publish order, unsubscribe, and a slow subscriber losing
 * its own events (counted) without a fast one on the same topic losing any.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connect, register, type Service } from '@herald/client'
import { killAll, spawnCli, startRelay, until, type RelayProc } from './harness.js'
import { counter, deferred, relayStatus, seqOf, seqPayload, text } from './patterns-helpers.js'

let relay: RelayProc

beforeAll(async () => {
  relay = await startRelay()
})
afterAll(killAll)

/** Lets the event loop run I/O (a publisher that yields, as a real one would between batches). */
const yieldToIo = (): Promise<void> => new Promise((r) => setImmediate(r))

describe('broadcast', () => {
  it('reaches every member of the cluster and nobody else; no members is not an error', async () => {
    const got: string[][] = [[], [], []]
    const arrived = counter(3)
    const svcs = await Promise.all(got.map((list) => register({
      port: relay.port, cluster: 'bc-basic',
      handler: { handleBroadcast: (m) => { list.push(text(m)); arrived.hit() } },
    })))
    const otherGot: string[] = []
    const other = await register({ port: relay.port, cluster: 'bc-other', handler: { handleBroadcast: (m) => { otherGot.push(text(m)) } } })
    const conn = await connect({ port: relay.port })
    try {
      await conn.broadcast('bc-nobody', 'into the void') // best effort: resolves
      await conn.broadcast('bc-basic', 'hello members')
      await arrived.done
      expect(got).toEqual([['hello members'], ['hello members'], ['hello members']])
      // Empty broadcasts are delivered too.
      const empty = counter(1)
      const emptyGot: number[] = []
      const emptyMember = await register({ port: relay.port, cluster: 'bc-empty', handler: { handleBroadcast: (m) => { emptyGot.push(m.length); empty.hit() } } })
      await conn.broadcast('bc-empty', new Uint8Array(0))
      await empty.done
      expect(emptyGot).toEqual([0])
      await emptyMember.close()
      expect(otherGot).toEqual([])
    } finally {
      await conn.close()
      await Promise.all([...svcs, other].map((s) => s.close()))
    }
  })

  it('each of 3 members gets each of 100 broadcasts exactly once, and nothing more', async () => {
    const n = 100
    const got: number[][] = [[], [], []]
    const full = got.map(() => counter(n))
    // When a member answers its first request, every broadcast sent before it has arrived
    // (same sender, same relay, same member socket): record what it had by then.
    const atFirstRequest: Array<number | undefined> = [undefined, undefined, undefined]
    const svcs: Service[] = await Promise.all(got.map((list, i) => register({
      port: relay.port, cluster: 'bc-100',
      handler: {
        handleBroadcast: (m) => { list.push(seqOf(m)); full[i]!.hit() },
        handleRequest: () => { atFirstRequest[i] ??= list.length; return String(i) },
      },
    })))
    const conn = await connect({ port: relay.port })
    try {
      for (let k = 0; k < n; k++) await conn.broadcast('bc-100', seqPayload(k, 16))
      await Promise.all(full.map((c) => c.done))
      // Round trips after the broadcasts, until each member has answered one.
      for (let tries = 0; atFirstRequest.some((x) => x === undefined); tries++) {
        expect(tries).toBeLessThan(100)
        await conn.request('bc-100', 'flush', { timeoutMs: 5000 })
      }
      const expected = Array.from({ length: n }, (_, k) => k)
      for (let i = 0; i < got.length; i++) {
        expect(atFirstRequest[i]).toBe(n)
        expect(new Set(got[i]).size).toBe(n) // no duplicates
        expect([...got[i]!].sort((a, b) => a - b)).toEqual(expected) // every id, nothing extra
        expect(svcs[i]!.stats.droppedBroadcasts).toBe(0)
      }
    } finally {
      await conn.close()
      await Promise.all(svcs.map((s) => s.close()))
    }
  })
})

describe('publish/subscribe', () => {
  it('delivers to handler and `for await` subscribers; unsubscribe stops delivery', async () => {
    const sub1 = await connect({ port: relay.port })
    const sub2 = await connect({ port: relay.port })
    const pub = await connect({ port: relay.port })
    try {
      const handled: string[] = []
      const handlerGot = counter(3)
      const hsub = await sub1.subscribe('ps-basic', { handleEvent: (ev) => { handled.push(text(ev)); handlerGot.hit() } })
      const isub = await sub2.subscribe('ps-basic')
      const iterated: string[] = []
      const iterDone = (async () => {
        for await (const ev of isub) {
          iterated.push(text(ev))
          if (iterated.length === 3) break // break unsubscribes
        }
      })()

      await pub.publish('ps-nobody', 'unheard') // no subscribers: fine
      await pub.publish('ps-other', 'wrong topic')
      await pub.publish('ps-basic', 'one')
      await pub.publish('ps-basic', '')
      await pub.publish('ps-basic', new Uint8Array([0x74, 0x68, 0x72, 0x65, 0x65]))
      await Promise.all([handlerGot.done, iterDone])
      expect(handled).toEqual(['one', '', 'three'])
      expect(iterated).toEqual(['one', '', 'three'])
      expect(isub.isClosed).toBe(true)

      // After unsubscribe the handler subscription gets nothing more. A third subscription,
      // subscribed all along on the same connection as the unsubscribed one, shows when the
      // later events have arrived.
      const witness: string[] = []
      const witnessGot = counter(2)
      const wsub = await sub1.subscribe('ps-basic', { handleEvent: (ev) => { witness.push(text(ev)); witnessGot.hit() } })
      await hsub.unsubscribe()
      expect(hsub.isClosed).toBe(true)
      await pub.publish('ps-basic', 'after-1')
      await pub.publish('ps-basic', 'after-2')
      await witnessGot.done
      expect(witness).toEqual(['after-1', 'after-2'])
      expect(handled).toEqual(['one', '', 'three'])
      await wsub.unsubscribe()

      // Fully unsubscribed: the relay drops the topic for this connection; resubscribing works.
      const again = await sub1.subscribe('ps-basic')
      await pub.publish('ps-basic', 'again')
      const r = await again.next({ timeoutMs: 5000 })
      expect(r.done).toBe(false)
      expect(text(r.value as Uint8Array)).toBe('again')
      await again.unsubscribe()
      expect((await again.next()).done).toBe(true)
    } finally {
      await Promise.all([sub1.close(), sub2.close(), pub.close()])
    }
  })

  it('10,000 events arrive at two subscribers in publish order, none lost', async () => {
    const n = 10_000
    const a = await connect({ port: relay.port })
    const b = await connect({ port: relay.port })
    const pub = await connect({ port: relay.port })
    try {
      const gotA: number[] = []
      const doneA = counter(n)
      const subA = await a.subscribe('ps-order', { handleEvent: (ev) => { gotA.push(seqOf(ev)); doneA.hit() } })
      const subB = await b.subscribe('ps-order')
      const gotB: number[] = []
      const readB = (async () => {
        for await (const ev of subB) {
          gotB.push(seqOf(ev))
          if (gotB.length === n) break
        }
      })()
      for (let i = 0; i < n; i++) {
        await pub.publish('ps-order', seqPayload(i, 64))
        if (i % 256 === 255) await yieldToIo()
      }
      await Promise.all([doneA.done, readB])
      const expected = Array.from({ length: n }, (_, i) => i)
      expect(gotA).toEqual(expected)
      expect(gotB).toEqual(expected)
      expect(subA.stats()).toMatchObject({ delivered: n, dropped: 0 })
      expect(subB.stats()).toMatchObject({ delivered: n, dropped: 0 })
    } finally {
      await Promise.all([a.close(), b.close(), pub.close()])
    }
  })

  it.each([
    ['a handler that takes ~5 ms per event', 'handler'],
    ['an iterable subscription nobody reads', 'iterator'],
  ] as const)('a slow subscriber (%s) past its 64 KiB limit loses events, a fast one on the same topic loses none', async (_, kind) => {
    const n = 20_000
    const size = 1024
    const topic = `ps-slow-${kind}`
    const fastConn = await connect({ port: relay.port })
    const slowConn = await connect({ port: relay.port })
    const pub = await connect({ port: relay.port })
    let stopSlow = false
    try {
      const fast: number[] = []
      const wrongSizes: number[] = []
      const fastDone = deferred()
      const fastSub = await fastConn.subscribe(topic, {
        handleEvent: (ev) => {
          if (ev.length !== size) wrongSizes.push(ev.length)
          fast.push(seqOf(ev))
          if (fast.length === n) fastDone.resolve()
        },
      })
      const slow: number[] = []
      const slowSub = kind === 'handler'
        ? await slowConn.subscribe(topic, {
          async handleEvent(ev) {
            slow.push(seqOf(ev))
            if (!stopSlow) await new Promise((r) => setTimeout(r, 5)) // the slow application's work
          },
        }, { memory: 64 * 1024 })
        : await slowConn.subscribe(topic, undefined, { memory: 64 * 1024 })

      const payload = new Uint8Array(size)
      for (let i = 0; i < n; i++) {
        payload.fill(i & 0xff)
        new DataView(payload.buffer).setUint32(0, i, true)
        await pub.publish(topic, payload)
        if (i % 64 === 63) await yieldToIo()
      }
      await fastDone.promise
      expect(wrongSizes).toEqual([])
      expect(fast).toEqual(Array.from({ length: n }, (_, i) => i))
      expect(fastSub.stats()).toMatchObject({ delivered: n, dropped: 0 })

      // The slow one lost events past its limit (counted here or reported by the relay).
      await until(() => slowSub.stats().dropped > 0, 10_000, 'the slow subscriber to count drops')
      if (kind === 'iterator') {
        // What it kept is bounded by its limit.
        expect(slowSub.stats().queuedBytes).toBeLessThanOrEqual(64 * 1024)
      }
      stopSlow = true
      // Every event is accounted for: delivered (read now, for the iterator), or dropped and
      // counted (here, or at the relay and reported).
      const drainIterator = async (): Promise<void> => {
        for (;;) {
          const r = await slowSub.next({ timeoutMs: 0 }).catch(() => undefined)
          if (r === undefined || r.done === true) return
          slow.push(seqOf(r.value))
        }
      }
      await until(async () => {
        if (kind === 'iterator') await drainIterator()
        const st = slowSub.stats()
        return st.delivered + st.dropped === n
      }, 10_000, 'every event delivered or counted as dropped')
      expect(slow.length).toBeGreaterThan(0)
      expect(slow.length).toBeLessThan(n)
      for (let i = 1; i < slow.length; i++) expect(slow[i]!).toBeGreaterThan(slow[i - 1]!)
      expect(slowSub.stats().delivered).toBe(slow.length)
    } finally {
      stopSlow = true
      await Promise.all([fastConn.close(), slowConn.close(), pub.close()])
    }
  })

  it('a subscriber process that stops reading its socket loses its own events at the relay, never stalling a fast one', async () => {
    const n = 40_000
    const size = 1024
    const topic = 'ps-stopped'
    const stopped = spawnCli(['subscribe', topic, '--port', String(relay.port)])
    await stopped.waitFor(/subscribed/)
    stopped.kill('SIGSTOP') // still connected, reads nothing
    const fastConn = await connect({ port: relay.port })
    const pub = await connect({ port: relay.port })
    try {
      const fast: number[] = []
      const fastDone = deferred()
      await fastConn.subscribe(topic, { handleEvent: (ev) => { fast.push(seqOf(ev)); if (fast.length === n) fastDone.resolve() } })
      const payload = new Uint8Array(size)
      for (let i = 0; i < n; i++) {
        new DataView(payload.buffer).setUint32(0, i, true)
        await pub.publish(topic, payload)
        if (i % 64 === 63) await yieldToIo()
      }
      await fastDone.promise
      expect(fast).toEqual(Array.from({ length: n }, (_, i) => i))
      const st = await relayStatus(pub)
      const t = st.topics.find((x) => x.name === topic)
      expect(t?.subscribers).toBe(2)
      expect(t?.dropped).toBeGreaterThan(0)
    } finally {
      stopped.kill('SIGCONT')
      stopped.kill('SIGKILL')
      await Promise.all([fastConn.close(), pub.close()])
    }
  })
})
