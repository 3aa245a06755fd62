import { DEFAULT_CLIENT_PORT } from '@herald/wire'

/** Defaults of the client SDK. Options objects override each of them. */
export const DEFAULT_HOST = '127.0.0.1'
export const DEFAULT_PORT = DEFAULT_CLIENT_PORT
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000
export const DEFAULT_TUNNEL_TIMEOUT_MS = 10_000
/** Per-subscription buffer of undelivered events (here and at the relay); excess is dropped and counted. */
export const DEFAULT_SUBSCRIPTION_MEMORY = 16 * 1024 * 1024
/** Bytes a tunnel end lets its peer send ahead of what the application has consumed. */
export const DEFAULT_TUNNEL_WINDOW = 1024 * 1024
/** Extra allowance charged per tunnel message (a protocol fact: see @herald/wire). */
export { TUNNEL_MESSAGE_COST } from '@herald/wire'
/** Once this many bytes are queued for the socket, publish/broadcast wait for it to drain. */
export const SOCKET_HIGH_WATER = 4 * 1024 * 1024
export const DEFAULT_MEMBER_LIMITS = {
  requestConcurrency: 64,
  requestMemory: 64 * 1024 * 1024,
  broadcastConcurrency: 16,
  broadcastMemory: 16 * 1024 * 1024,
}
