export { connect, Connection, type ConnectOptions, type RequestOptions, type TunnelOptions } from './connection.js'
export { register, Service, type MemberHandler, type RegisterOptions, type MemberStats } from './member.js'
export { Subscription, type HeraldEvent, type SubscriptionHandler, type SubscriptionLimits, type SubscriptionStats } from './subscription.js'
export { Tunnel } from './tunnel.js'
export { generateClusterKey, type ClusterKey, type ClusterKeys } from './keys.js'
export {
  HeraldError, TimeoutError, RemoteError, NoMembersError, MemberLostError, ClosedError,
  MessageTooLargeError, KeyError, type HeraldErrorCode,
} from './errors.js'
export type { Payload, WaitOptions } from './util.js'
export * as defaults from './constants.js'
