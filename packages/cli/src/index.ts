export { createProgram, main } from './program.js'
export { COMMANDS } from './commands/index.js'
export { UsageError, integer, withPortOption, withConnection } from './util.js'
export { formatStatus } from './status-format.js'
