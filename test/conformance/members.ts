/** The member behaviours of the conformance DSL, on the TypeScript SDK. */
import { HeraldError, register, type MemberHandler, type Service, type Tunnel } from '@herald/client'
import type { Step } from './scenarios.js'

/** A promise with its resolve exposed. */
function latch<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => { resolve = r })
  return { promise, resolve }
}

/** A registered member that records what reaches it (requests, broadcasts, tunnel traffic). */
export class Member {
  requests = 0
  readonly broadcasts: Buffer[] = []
  private readonly gateLatch = latch()
  private broadcastWaiter: (() => void) | undefined
  readonly tunnelMessages: Buffer[] = []
  readonly tunnelEnd = latch<string>()
  svc: Service | undefined

  constructor(private readonly step: Step) {}

  async start(port: number): Promise<Member> {
    const s = this.step
    const handler: MemberHandler = {
      handleRequest: (r) => this.request(Buffer.from(r)),
      handleBroadcast: (m) => {
        this.broadcasts.push(Buffer.from(m))
        this.broadcastWaiter?.()
      },
    }
    if (s.on_tunnel !== undefined) handler.handleTunnel = (t) => this.tunnel(t)
    this.svc = await register({
      port, cluster: s.cluster as string, handler,
      ...(s.limits !== undefined ? { limits: s.limits } : {}),
      ...(s.key !== undefined ? { key: s.key } : {}),
    })
    return this
  }

  gate(): void {
    this.gateLatch.resolve()
  }

  /** Resolves once the member has at least `n` broadcasts. */
  async broadcastsAtLeast(n: number): Promise<void> {
    while (this.broadcasts.length < n) await new Promise<void>((r) => { this.broadcastWaiter = r })
  }

  private drop(): void {
    void this.svc?.conn.close()
  }

  private async request(payload: Buffer): Promise<Uint8Array | string | undefined> {
    this.requests++
    const how = this.step.on_request ?? 'echo'
    if (how === 'echo') return payload
    if (how === 'empty') return undefined
    if (how === 'gated-echo') {
      await this.gateLatch.promise
      return payload
    }
    if (how === 'hang' || how === 'drop') {
      if (how === 'drop') this.drop()
      return new Promise<never>(() => {})
    }
    if (typeof how === 'object' && how.fail !== undefined) throw new Error(how.fail)
    if (typeof how === 'object' && how.prefix !== undefined) return Buffer.concat([Buffer.from(how.prefix, 'utf8'), payload])
    throw new Error(`unknown on_request ${JSON.stringify(how)}`)
  }

  private async tunnel(tun: Tunnel): Promise<void> {
    const how = this.step.on_tunnel
    if (how === 'gated-echo') await this.gateLatch.promise
    if (how === 'echo' || how === 'gated-echo') {
      for await (const m of tun) await tun.send(m)
    } else if (how === 'collect') {
      try {
        for await (const m of tun) this.tunnelMessages.push(Buffer.from(m))
        this.tunnelEnd.resolve('ok')
      } catch (err) {
        this.tunnelEnd.resolve(err instanceof HeraldError ? err.code : String(err))
      }
    } else if (how === 'drop') {
      this.drop()
    } else if (typeof how === 'object' && how.close_after !== undefined) {
      for (let i = 0; i < how.close_after; i++) await tun.receive()
      await tun.close()
    } else {
      throw new Error(`unknown on_tunnel ${JSON.stringify(how)}`)
    }
  }

  async close(): Promise<void> {
    await this.svc?.close({ graceMs: 500 })
  }
}
