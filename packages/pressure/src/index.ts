export { createPressureProxy, PressureProxy, type PressureProxyInit, type ProxyStats, type ProxyState, type Scope, type ScopeOptions, type DirectionOptions } from './proxy.js'
export type { Address, ConnectionInfo, ConnectionState } from './connection.js'
export type { PipeStats, PipeState } from './pipe.js'
export {
  NO_PRESSURE, applyConfig, resolveSettings, settingsOf, derivedRtoMs,
  type LinkSettings, type LinkConfig, type PressureConfig, type PressureSettings, type ResolvedLink, type ResolvedSettings, type Direction,
} from './settings.js'
export { PROFILES, profile, profileNames, type Profile } from './profiles.js'
export { LinkModel, type Scheduled } from './link-model.js'
export { seededRandom, type Random } from './random.js'
export { parseDuration, parseRate, parseSize, parseProbability, formatBytes, formatRate } from './units.js'
export { InvalidSettingError, LanUnavailableError } from './errors.js'
export { pressureCommand, type PressureCommandInit } from './command.js'
export { runControlCommand, COMMAND_HELP, type CommandResult } from './control/commands.js'
export { startControlEndpoint, type ControlEndpoint, type ControlInit } from './control/http.js'
export { parseAddress, formatAddress } from './control/address.js'
