/**
 * 10% packet loss on every path between three relays in network namespaces (nftables drops
 * real packets; TCP really retransmits). Needs root, iproute2 and nftables: in CI a missing
 * one is a failure, elsewhere the test says why it did not run.
 */
import { describe, it } from 'vitest'
import { pressureScenario } from './expectations.js'
import { kernelTopology, kernelUnavailable } from './topology.js'

const unavailable = kernelUnavailable()
if (unavailable === undefined) {
  pressureScenario({
    name: '10% packet loss between relays (kernel)',
    topology: () => kernelTopology(0.1),
    runMs: 20_000,
    generousTimeoutMs: 10_000,
  })
} else {
  describe('pressure: 10% packet loss between relays (kernel)', () => {
    if (process.env['CI'] === 'true') {
      it('has what it needs to run (root, ip, nft, tc)', () => {
        throw new Error(`the kernel-mode pressure test cannot run in CI: ${unavailable}`)
      })
    } else {
      it.skip(`SKIPPED: ${unavailable}`, () => {})
    }
  })
}
