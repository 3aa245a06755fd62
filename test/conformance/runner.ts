/** Runs one conformance scenario against the TypeScript SDK (conformance/README.md). */
import { createServer, type AddressInfo } from 'node:net'
import { connect, Connection, HeraldError, type Subscription, type Tunnel } from '@herald/client'
import { Member } from './members.js'
import {
  ERROR_CLASSES, Vars, numbered, payload, payloads, type Expect, type Scenario, type Step,
} from './scenarios.js'
import { FrameStream, WAIT_MS, openRaw, type FakeRelay } from './sockets.js'

type Actor = Connection | Member | Subscription | Tunnel | FrameStream | Promise<unknown>

function unusedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo
      s.close(() => resolve(port))
    })
  })
}

function within<T>(p: Promise<T>, what: string, ms = WAIT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms) })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

function check(ok: boolean, message: string): void {
  if (!ok) throw new Error(message)
}

const short = (b: Uint8Array | undefined): string => (b === undefined ? 'nothing' : JSON.stringify(Buffer.from(b.subarray(0, 48)).toString('latin1')))
const same = (a: Uint8Array | undefined, b: Uint8Array): boolean => a !== undefined && Buffer.from(a).equals(b)

export class Runner {
  private readonly actors = new Map<string, Actor>()
  private readonly vars = new Vars()

  constructor(private readonly scenario: Scenario, private readonly ports: number[], private readonly fake: FakeRelay | undefined) {}

  async run(): Promise<void> {
    try {
      for (const [i, step] of this.scenario.spec.steps.entries()) {
        try {
          await this.step(step)
        } catch (err) {
          throw new Error(`step ${i} ${JSON.stringify(step).slice(0, 300)}: ${(err as Error).message}`)
        }
      }
    } finally {
      await this.teardown()
    }
  }

  private async teardown(): Promise<void> {
    for (const a of this.actors.values()) {
      if (a instanceof Connection || a instanceof Member) await within(a.close(), 'teardown').catch(() => {})
      else if (a instanceof FrameStream) a.close()
      else if (a instanceof Promise) a.catch(() => {})
    }
  }

  private get<T extends Actor>(name: string | undefined, what: string): T {
    const a = this.actors.get(name ?? '')
    if (a === undefined) throw new Error(`no ${what} named "${String(name)}"`)
    return a as T
  }

  private conn(name: string | undefined): Connection {
    const a = this.get<Actor>(name, 'connection')
    if (a instanceof Member) return a.svc!.conn
    if (!(a instanceof Connection)) throw new Error(`${String(name)} is not a connection`)
    return a
  }

  private port(s: Step): number {
    return this.ports[s.relay ?? 0] as number
  }

  private async step(s: Step): Promise<void> {
    const fn = this.ops[s.op]
    if (fn === undefined) throw new Error(`unknown op "${s.op}"`)
    if (s.pending === true) {
      const p = fn(s)
      p.catch(() => {}) // checked by a later await
      this.actors.set(s.as as string, p)
      return
    }
    const work = s.op === 'await' ? this.get<Promise<unknown>>(s.of, 'pending step') : fn(s)
    await this.outcome(work, s.expect ?? {})
  }

  private async outcome(work: Promise<unknown>, expect: Expect): Promise<void> {
    if (expect.error !== undefined) {
      let failed: unknown
      try {
        await work
      } catch (err) {
        failed = err ?? new Error('rejected without a reason')
      }
      check(failed !== undefined, `expected ${expect.error}, but it succeeded`)
      Runner.checkError(failed, expect)
      return
    }
    const result = await work
    if (expect.reply !== undefined) {
      const want = payload(expect.reply)
      check(same(result as Uint8Array, want), `reply ${short(result as Uint8Array)} != ${short(want)}`)
    }
    if (expect.max_message_bytes !== undefined) {
      const got = (result as Connection).maxMessageBytes
      check(got === expect.max_message_bytes, `maxMessageBytes ${got} != ${expect.max_message_bytes}`)
    }
  }

  static checkError(err: unknown, expect: Expect): void {
    const code = expect.error as string
    check(err instanceof HeraldError, `expected ${code}, got a non-Herald error: ${String(err)}`)
    const e = err as HeraldError
    check(e.code === code, `expected ${code}, got ${e.code}: ${e.message}`)
    const cls = ERROR_CLASSES[code] ?? HeraldError
    check(e instanceof cls, `${code} should be a ${cls.name}, got ${e.name}`)
    if (expect.message !== undefined) check(e.message === expect.message, `message ${JSON.stringify(e.message)} != ${JSON.stringify(expect.message)}`)
  }

  // ---- the ops (conformance/README.md, "Steps") -------------------------------------------

  private readonly ops: Record<string, (s: Step) => Promise<unknown>> = {
    connect: async (s) => {
      const port = s.port === 'unused' ? await unusedPort() : this.port(s)
      const c = await connect({
        port,
        ...(s.timeout_ms !== undefined ? { timeoutMs: s.timeout_ms } : {}),
        ...(s.cluster_keys !== undefined ? { clusterKeys: s.cluster_keys } : {}),
        ...(s.topic_keys !== undefined ? { topicKeys: s.topic_keys } : {}),
      })
      this.actors.set(s.as as string, c)
      return c
    },
    register: async (s) => { this.actors.set(s.as as string, await new Member(s).start(this.port(s))) },
    request: (s) => this.conn(s.conn).request(s.cluster as string, payload(s.payload!), s.timeout_ms !== undefined ? { timeoutMs: s.timeout_ms } : {}),
    await: () => Promise.reject(new Error('handled by step()')),
    broadcast: (s) => this.conn(s.conn).broadcast(s.cluster as string, payload(s.payload!)),
    publish: async (s) => {
      const c = this.conn(s.conn)
      for (const p of payloads(s.payloads!)) await c.publish(s.topic as string, p)
    },
    subscribe: async (s) => {
      const sub = await this.conn(s.conn).subscribe(s.topic as string, undefined, s.memory !== undefined ? { memory: s.memory } : {})
      this.actors.set(s.as as string, sub)
    },
    unsubscribe: (s) => this.get<Subscription>(s.sub, 'subscription').unsubscribe(),
    events: async (s) => {
      const sub = this.get<Subscription>(s.sub, 'subscription')
      for (const [i, want] of payloads(s.payloads!).entries()) {
        const r = await sub.next({ timeoutMs: WAIT_MS })
        check(r.done !== true && same(r.value, want), `event ${i}: ${short(r.value)} != ${short(want)}`)
      }
    },
    sub_end: async (s) => {
      const r = await this.get<Subscription>(s.sub, 'subscription').next({ timeoutMs: WAIT_MS })
      check(r.done === true, `expected the end, got an event ${short(r.value)}`)
    },
    sub_stats: async (s) => {
      const got = this.get<Subscription>(s.sub, 'subscription').stats().dropped
      check(got === s.dropped, `dropped ${got} != ${String(s.dropped)}`)
    },
    broadcasts: async (s) => {
      const m = this.get<Member>(s.member, 'member')
      const want = payloads(s.payloads!)
      await within(m.broadcastsAtLeast(want.length), 'broadcasts')
      check(m.broadcasts.length === want.length && m.broadcasts.every((b, i) => b.equals(want[i]!)),
        `broadcasts [${m.broadcasts.map(short).join(', ')}] != [${want.map(short).join(', ')}]`)
    },
    member_stats: async (s) => {
      const m = this.get<Member>(s.member, 'member')
      check(m.requests === s.requests, `member saw ${m.requests} requests, expected ${String(s.requests)}`)
    },
    gate: async (s) => { this.get<Member>(s.member, 'member').gate() },
    tunnel: async (s) => {
      const t = await this.conn(s.conn).tunnel(s.cluster as string, s.timeout_ms !== undefined ? { timeoutMs: s.timeout_ms } : {})
      this.actors.set(s.as as string, t)
      return t
    },
    send: async (s) => {
      const t = this.get<Tunnel>(s.tunnel, 'tunnel')
      for (const p of payloads(s.payloads!)) await t.send(p, { timeoutMs: s.timeout_ms ?? WAIT_MS })
    },
    send_until_blocked: async (s) => {
      const t = this.get<Tunnel>(s.tunnel, 'tunnel')
      let sent = 0
      for (; sent <= (s.sent as number); sent++) {
        const err = await t.send(numbered(sent, s.size as number), { timeoutMs: s.timeout_ms as number }).then(() => undefined, (e: unknown) => e)
        if (err === undefined) continue
        check(err instanceof HeraldError && err.code === 'TIMEOUT', `send failed with ${String(err)}`)
        break
      }
      check(sent === s.sent, `${sent} sends went before one blocked, expected ${String(s.sent)}`)
    },
    receive: async (s) => {
      const t = this.get<Tunnel>(s.tunnel, 'tunnel')
      for (const [i, want] of payloads(s.payloads!).entries()) {
        const got = await t.receive({ timeoutMs: WAIT_MS })
        check(same(got, want), `message ${i}: ${short(got)} != ${short(want)}`)
      }
    },
    echo: async (s) => {
      const t = this.get<Tunnel>(s.tunnel, 'tunnel')
      const msgs = payloads(s.payloads!)
      const writer = (async () => { for (const m of msgs) await t.send(m, { timeoutMs: WAIT_MS }) })()
      writer.catch(() => {})
      for (const [i, want] of msgs.entries()) {
        const got = await t.receive({ timeoutMs: WAIT_MS })
        check(same(got, want), `echo ${i}: ${short(got)} != ${short(want)}`)
      }
      await writer
    },
    tunnel_close: (s) => this.get<Tunnel>(s.tunnel, 'tunnel').close(),
    tunnel_end: async (s) => {
      const t = this.get<Tunnel>(s.tunnel, 'tunnel')
      let r: IteratorResult<Uint8Array>
      try {
        r = await t.next({ timeoutMs: WAIT_MS })
      } catch (err) {
        check(s.error !== undefined, `the tunnel ended with ${String(err)}`)
        Runner.checkError(err, { error: s.error as string })
        return
      }
      check(r.done === true, `expected the end, got a message ${short(r.value)}`)
      check(s.error === undefined, `the tunnel ended normally, expected ${String(s.error)}`)
    },
    member_tunnel: async (s) => {
      const m = this.get<Member>(s.member, 'member')
      const end = await within(m.tunnelEnd.promise, 'the member\'s tunnel end')
      const want = payloads(s.payloads!)
      check(m.tunnelMessages.length === want.length && m.tunnelMessages.every((b, i) => b.equals(want[i]!)), `member got ${m.tunnelMessages.length} messages`)
      check(end === s.end, `the member's tunnel ended with ${end}, expected ${String(s.end)}`)
    },
    sync: (s) => this.conn(s.conn).request('$herald.status', '', { timeoutMs: WAIT_MS }),
    close: (s) => this.get<Connection | Member>(s.conn ?? s.member, 'connection').close(),
    dropped: async (s) => {
      const reason = await within(this.conn(s.conn).closed, 'the connection\'s end')
      check(reason !== undefined, 'the connection was closed by us, not dropped')
      Runner.checkError(reason, { error: s.error as string })
    },
    wait_route: async (s) => {
      const [key, name] = s.cluster !== undefined ? ['clusters', s.cluster] as const : ['topics', s.topic as string] as const
      const c = await connect({ port: this.port(s) })
      try {
        const until = Date.now() + 20_000
        while (Date.now() < until) {
          const status = JSON.parse(Buffer.from(await c.request('$herald.status', '', { timeoutMs: WAIT_MS })).toString('utf8')) as {
            peers: Array<{ connected: boolean; clusters: Record<string, unknown>; topics: string[] }>
          }
          const listed = status.peers.some((p) => p.connected && (key === 'clusters' ? name in p.clusters : p.topics.includes(name)))
          if (listed) return
          await new Promise((r) => setTimeout(r, 50)) // directory state is only visible by polling
        }
        throw new Error(`no linked relay lists ${key} "${name}" within 20 s`)
      } finally {
        await c.close()
      }
    },
    raw: async (s) => { this.actors.set(s.as as string, await openRaw(this.port(s))) },
    raw_send: (s) => this.get<FrameStream>(s.raw, 'raw socket').write(s.frames!, this.vars),
    raw_expect: async (s) => {
      const r = this.get<FrameStream>(s.raw, 'raw socket')
      for (const [i, pattern] of s.frames!.entries()) await r.expect(pattern as Record<string, unknown> & { type: string }, this.vars, `frame ${i}`)
      if (s.then === 'closed') await r.expectEnd('after the frames')
    },
    fake_done: async () => {
      check(this.fake !== undefined, 'no fake relay in this scenario')
      await this.fake!.done()
    },
  }
}
