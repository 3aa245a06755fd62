/**
 * clients/ — local clients: the client server (TCP on loopback, a Unix socket, or in-process
 * connections), one Session per connection speaking the client protocol, the per-client
 * limits, and the queues that hold a slow client's events (OutQueue, Outlet).
 *
 * May import: routing/ (the Router and its Endpoint interfaces), clock, constants,
 * @herald/wire. Nothing below routing/.
 */

/** What a session needs of its connection: node:net's Socket fits, so does MemorySocket. */
export interface ClientSocket {
  write(bytes: Uint8Array): boolean
  /** Bytes written and not yet taken by the other end. */
  readonly writableLength: number
  pause(): unknown
  resume(): unknown
  end(): unknown
  destroy(): unknown
  on(event: 'data', listener: (chunk: Uint8Array) => void): unknown
  on(event: 'drain' | 'close', listener: () => void): unknown
  on(event: 'error', listener: (err: Error) => void): unknown
}
