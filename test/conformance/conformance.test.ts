/**
 * The client conformance suite (conformance/scenarios/*.json) run against the TypeScript SDK.
 * The Python client runs the same scenarios (clients/python/tests/test_conformance.py).
 * Scenarios without `relays` share one relay per suite file; the others get their own.
 * `HERALD_CONFORMANCE_INCLUDE=<tag>` adds the scenarios marked `"requires": "<tag>"` (none today).
 */
import { afterAll, describe, expect, it } from 'vitest'
import { killAll, startRelay, type RelayProc } from '../harness.js'
import { Runner } from './runner.js'
import { Vars, loadScenarios, type Scenario } from './scenarios.js'
import { FakeRelay } from './sockets.js'

const scenarios = loadScenarios()
const shared = new Map<string, Promise<RelayProc>>()
const tally = { passed: 0, failed: 0 }

async function ownRelays(spec: NonNullable<Scenario['spec']['relays']>): Promise<RelayProc[]> {
  const relays: RelayProc[] = []
  for (const r of spec) {
    const join = r.join === undefined ? [] : ['--bootstrap', relays[r.join]!.addrs[0]!]
    relays.push(await startRelay([...(r.args ?? []), ...join]))
  }
  return relays
}

async function runScenario(scenario: Scenario): Promise<void> {
  const { spec } = scenario
  const own: RelayProc[] = []
  let fake: FakeRelay | undefined
  try {
    let ports: number[]
    if (spec.fake_relay !== undefined) {
      fake = new FakeRelay(spec.fake_relay, new Vars())
      await fake.start()
      ports = [fake.port]
    } else if (spec.relays !== undefined) {
      own.push(...await ownRelays(spec.relays))
      ports = own.map((r) => r.port)
    } else {
      if (!shared.has(scenario.suite)) shared.set(scenario.suite, startRelay())
      ports = [(await shared.get(scenario.suite)!).port]
    }
    await new Runner(scenario, ports, fake).run()
  } finally {
    await fake?.stop()
    for (const r of own) r.kill()
  }
}

afterAll(async () => {
  await killAll()
  console.log(`conformance: typescript: ${tally.passed} scenarios passed, ${tally.failed} failed`)
})

for (const suite of [...new Set(scenarios.map((s) => s.suite))]) {
  describe(`conformance: ${suite}`, () => {
    for (const scenario of scenarios.filter((s) => s.suite === suite)) {
      it(`${scenario.spec.name}: ${scenario.spec.about}`, async () => {
        try {
          await runScenario(scenario)
          tally.passed++
        } catch (err) {
          tally.failed++
          throw err
        }
      })
    }
  })
}

it('the suite is complete: every scenario file loaded, names unique', () => {
  const names = scenarios.map((s) => s.spec.name)
  expect(new Set(names).size).toBe(names.length)
  expect([...new Set(scenarios.map((s) => s.suite))]).toEqual(
    expect.arrayContaining(['handshake', 'requests', 'pubsub', 'broadcast', 'tunnels', 'limits', 'keys', 'hostile-relay', 'relay-fixes-13']),
  )
})
