/** Defaults of the pressure kit. Settings, options and CLI flags override each of them. */

/** Linux's TCP_RTO_MIN: no retransmission timeout is shorter, whatever the round trip. */
export const MIN_RTO_MS = 200
/** Linux's TCP_RTO_MAX: back-off stops doubling here. */
export const MAX_RTO_MS = 120_000
/** Linux's tcp_retries2: after this many retransmissions a real stack gives up; we deliver. */
export const MAX_RETRANSMITS = 15
/** One TCP segment on an Ethernet path (MTU 1500 minus IP and TCP headers). */
export const DEFAULT_SEGMENT_BYTES = 1460
/** Bytes a direction may hold when no bandwidth bounds the bandwidth-delay product. */
export const DEFAULT_BUFFER_BYTES = 4 * 1024 * 1024
/** The smallest and largest derived buffer (an explicit bufferBytes may go beyond). */
export const MIN_BUFFER_BYTES = 64 * 1024
export const MAX_DERIVED_BUFFER_BYTES = 64 * 1024 * 1024
/** The token bucket holds at least this many milliseconds of the rate (and one segment). */
export const BURST_MS = 10
/** Largest single write to a socket when several due segments are coalesced. */
export const MAX_WRITE_BYTES = 256 * 1024
/** A new connection whose target does not answer within this time is reset. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000
/** Connections the proxy holds at once; more are refused (memory is bounded per connection). */
export const DEFAULT_MAX_CONNECTIONS = 1024
/** Largest value accepted for a duration, a size or a rate, so no setting overflows a timer. */
export const MAX_DURATION_MS = 24 * 3600 * 1000
export const MAX_BYTES = 2 ** 40
