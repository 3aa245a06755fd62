/**
 * 250 ms one way with ± 50 ms of normal jitter on every relay-to-relay connection (proxies in
 * front of the relays): a 500 ms round trip that the failure detector must learn, not fear.
 */
import { pressureScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

pressureScenario({
  name: '250 ± 50 ms between relays',
  topology: () => proxyTopology({ latencyMs: 250, jitterMs: 50 }, 1),
  runMs: 20_000,
  // A round trip is ~500 ms plus a few deviations: 10 s allows for it, 100 ms cannot.
  generousTimeoutMs: 10_000,
  tightTimeoutMs: 100,
}, { tight: true })
