export { Relay, startRelay, type RelayInit, type RelayStatus } from './relay.js'
export { Router, type Endpoint, type RouterCounters } from './router.js'
export * as defaults from './constants.js'
