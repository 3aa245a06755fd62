/**
 * 1 Mbit/s each way on every relay-to-relay connection. The tunnel wants 256 KiB/s, twice
 * what the path carries, so its window (1 MiB, 8 s at this rate) fills the path: what else
 * crosses that pair of relays waits behind it (one TCP connection per pair), which the
 * requests' timeout allows for.
 */
import { pressureScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

pressureScenario({
  name: '1 Mbit/s between relays',
  topology: () => proxyTopology({ bandwidth: 125_000 }, 2),
  runMs: 20_000,
  generousTimeoutMs: 30_000,
})
