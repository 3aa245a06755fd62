/**
 * A small service of its own: price quotes. Members of the "quotes" cluster answer a symbol
 * with its price; each member also publishes every price change on "ticks.<symbol>", numbered,
 * so a subscriber can tell a gap from a quiet market. Clients ask with `quote()`, which keeps
 * asking (each attempt with its own timeout) until a deadline — what a service needs on a bad
 * network, where one attempt may wait behind a retransmission and the next gets through.
 *
 *   serveQuotes({ port, prices })      a member (returns a handle to change prices and stop)
 *   quote(conn, 'ACME', { deadlineMs })  the price, or a TimeoutError once the deadline passed
 */
import { MemberLostError, NoMembersError, TimeoutError, register, type Connection, type Service } from '@herald/client'

export const CLUSTER = 'quotes'

export interface Quote {
  symbol: string
  price: number
  /** How many times this member changed the price (the tick number). */
  seq: number
}

export interface QuotesMember {
  /** Sets a price and publishes the tick. */
  set(symbol: string, price: number): Promise<void>
  close(): Promise<void>
}

const decode = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Joins the "quotes" cluster on the relay at `port`, serving `prices`. */
export async function serveQuotes(opts: { port: number; prices: Record<string, number> }): Promise<QuotesMember> {
  const prices = new Map(Object.entries(opts.prices))
  let seq = 0
  const svc: Service = await register({
    port: opts.port,
    cluster: CLUSTER,
    handler: {
      handleRequest(req) {
        const symbol = decode(req)
        const price = prices.get(symbol)
        if (price === undefined) throw new Error(`unknown symbol ${symbol}`)
        return JSON.stringify({ symbol, price, seq } satisfies Quote)
      },
    },
  })
  // The member's own connection publishes the ticks.
  const conn = svc.conn
  return {
    async set(symbol, price) {
      prices.set(symbol, price)
      seq++
      await conn.publish(`ticks.${symbol}`, JSON.stringify({ symbol, price, seq } satisfies Quote))
    },
    close: () => svc.close(),
  }
}

/**
 * The price of `symbol`: attempts of `attemptMs` each, until one answers or `deadlineMs` has
 * passed (then the last attempt's TimeoutError). A remote error (unknown symbol) is not retried.
 */
export async function quote(conn: Connection, symbol: string, opts: { deadlineMs: number; attemptMs?: number }): Promise<Quote> {
  const end = Date.now() + opts.deadlineMs
  for (;;) {
    const left = end - Date.now()
    try {
      return JSON.parse(decode(await conn.request(CLUSTER, symbol, { timeoutMs: Math.max(1, Math.min(opts.attemptMs ?? 3_000, left)) }))) as Quote
    } catch (err) {
      // Under a headwind a try can time out, find no member yet (the relays are still learning
      // of it), or lose its relay's link mid-flight: all worth another try within the deadline.
      const retry = err instanceof TimeoutError || err instanceof NoMembersError || err instanceof MemberLostError
      if (!retry || Date.now() >= end) throw err
    }
  }
}
