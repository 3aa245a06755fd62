/**
 * 1 Mbit/s each way on every relay-to-relay connection. The tunnel's member reads 48 KiB/s, so
 * the writer is held by a slow reader within what the path carries: a tunnel that fills the
 * path instead queues its 1 MiB window (8 s) ahead of the relays' pings, which makes relays
 * declare each other dead (findings.test.ts, 2) — pinned there, kept out of this scenario.
 */
import { pressureScenario } from './expectations.js'
import { proxyTopology } from './topology.js'

pressureScenario({
  name: '1 Mbit/s between relays',
  topology: () => proxyTopology({ bandwidth: 125_000 }, 2),
  runMs: 20_000,
  generousTimeoutMs: 30_000,
  tunnelReadBytesPerSecond: 48 * 1024,
})
