/**
 * Relay C cut off from A and B for 10 s (its connections held, as by a blackhole, both ways),
 * then healed. Requests use 1 s timeouts, so an outage shows as typed failures and the
 * return as successes, to the quarter second.
 */
import { outageScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

outageScenario({
  name: 'a 10 s partition of one relay, then heal',
  topology: () => proxyTopology(undefined, 4),
  runMs: 21_000,
  generousTimeoutMs: 1_000,
  disturb: { kind: 'partition', relay: 2, atMs: 3_000, forMs: 10_000 },
})
