/**
 * Relay C frozen for 5 s (SIGSTOP: its sockets stay open, nothing answers), then thawed
 * (SIGCONT).
 */
import { outageScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

outageScenario({
  name: 'one relay frozen for 5 s',
  topology: () => proxyTopology(undefined, 5),
  runMs: 16_000,
  generousTimeoutMs: 1_000,
  disturb: { kind: 'freeze', relay: 2, atMs: 3_000, forMs: 5_000 },
})
