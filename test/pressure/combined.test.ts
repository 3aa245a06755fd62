/**
 * All three at once (the `lossy-wan` profile): 250 ± 50 ms, 10% loss and 1 Mbit/s. Loss here
 * is what TCP makes of it over a 500 ms round trip: a lost segment, and everything behind it,
 * waits a retransmission timeout (783 ms, doubling when the retransmission is lost too): a
 * request can wait several of those; 60 s allows for that, 100 ms allows for nothing. The
 * tunnel's member reads 48 KiB/s, within the path (see bandwidth.test.ts for why).
 */
import { pressureScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

pressureScenario({
  name: '250 ± 50 ms, 10% loss and 1 Mbit/s together',
  topology: () => proxyTopology({ latencyMs: 250, jitterMs: 50, loss: 0.1, bandwidth: 125_000 }, 3),
  runMs: 20_000,
  generousTimeoutMs: 60_000,
  tightTimeoutMs: 100,
  tunnelReadBytesPerSecond: 48 * 1024,
}, { tight: true })
