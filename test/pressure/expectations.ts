/**
 * What must hold in a pressure scenario, as vitest tests: one `it` per promise, all reading
 * the result of one run (made in beforeAll). Under latency, loss or low bandwidth: requests
 * that allow for the delay succeed and those that cannot fail typed, streams keep order and
 * lose nothing unreported, the tunnel is lossless and its writer held to the window, no live
 * relay ever leaves a view, memory stays bounded. After a partition or a freeze: failures are
 * typed, nothing hangs, and every view and pattern is back within 5 s of the heal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanup } from '@herald/testkit'
import { killAll } from '../harness.js'
import { requestFigures, streamFigures, viewFigures } from './figures.js'
import { runScenario, TUNNEL_MESSAGE_BYTES, type ScenarioPlan, type ScenarioResult } from './scenario.js'
import { NAMES, type Topology } from './topology.js'

/** The SDK's tunnel window (1 MiB) and the per-message charge (docs/protocol.md, Tunnels). */
const WINDOW = 1024 * 1024
const COST = 64
/**
 * The most a writer can be ahead of its echo: a window plus one message in flight each way
 * (the allowance may go below zero by one message), and the one the member holds.
 */
export const TUNNEL_AHEAD_BOUND = 2 * (WINDOW + TUNNEL_MESSAGE_BYTES + COST) + TUNNEL_MESSAGE_BYTES
/**
 * A relay's resident memory may grow this much over its idle size during a scenario: its link
 * backlog limit (16 MiB), tunnel windows and socket buffers, and garbage not yet collected.
 * (memory.test.ts floods a relay towards a frozen one to show the bound holds under load.)
 */
export const RSS_GROWTH_BOUND_MB = 64
/** The promise after a heal. */
export const RECOVERY_BOUND_MS = 5_000
/** Failures a request may meet when its member's relay is cut off or frozen. */
const OUTAGE_CODES = ['TIMEOUT', 'MEMBER_LOST', 'NO_MEMBERS']

export interface Checks {
  /** Requests with plan.tightTimeoutMs exist and must all time out. */
  tight?: boolean
}

function runOnce(plan: ScenarioPlan): () => ScenarioResult {
  let result: ScenarioResult | undefined
  let topology: Topology | undefined
  beforeAll(async () => {
    topology = await plan.topology()
    try {
      result = await runScenario(plan, topology)
    } catch (err) {
      for (let i = 0; i < NAMES.length; i++) process.stderr.write(`--- relay ${NAMES[i]} stderr:\n${topology.stderr(i).slice(-4000)}\n`)
      throw err
    }
  }, 240_000)
  afterAll(async () => {
    await topology?.close()
    await killAll()
    await cleanup()
  }, 60_000)
  return () => {
    if (result === undefined) throw new Error('the scenario did not run')
    return result
  }
}

function expectBoundedMemory(r: ScenarioResult): void {
  for (const name of NAMES) {
    const growth = (r.figures.rssPeakMB[name] ?? Infinity) - r.figures.rssBaselineMB[name]!
    expect(growth, `relay ${name} grew from ${r.figures.rssBaselineMB[name]} MB to ${r.figures.rssPeakMB[name]} MB`).toBeLessThanOrEqual(RSS_GROWTH_BOUND_MB)
  }
}

/** A scenario of steady pressure (latency, loss, bandwidth or all three). */
export function pressureScenario(plan: ScenarioPlan, checks: Checks = {}): void {
  describe(`pressure: ${plan.name}`, () => {
    const result = runOnce(plan)

    it('requests whose timeout allows for the delay all succeed; none hangs', () => {
      const f = result().figures.requests
      expect(f.unsettled).toBe(0)
      expect(f.failures).toEqual({})
    })

    if (checks.tight === true) {
      it('requests whose timeout cannot fit the delay all fail with a TimeoutError; none hangs', () => {
        const f = result().figures.tight!
        expect(f.unsettled).toBe(0)
        expect(f.ok).toBe(0)
        expect(Object.keys(f.failures)).toEqual(['TIMEOUT'])
      })
    }

    it('events between relays arrive in order, none duplicated, none lost unless a drop was reported', () => {
      const { events, dropsReported } = result().figures
      expect(events.outOfOrder).toBe(0)
      expect(events.duplicates).toBe(0)
      expect(events.lost).toBeLessThanOrEqual(dropsReported)
    })

    it('broadcasts between relays: none duplicated, none lost unless a drop was reported', () => {
      const { broadcasts, dropsReported } = result().figures
      expect(broadcasts.duplicates).toBe(0)
      expect(broadcasts.lost).toBeLessThanOrEqual(dropsReported)
    })

    it('the tunnel stays up, ordered and lossless, its writer held to the window', () => {
      const r = result()
      const t = r.figures.tunnel
      // Code and message, so a failure says what broke the tunnel (the objects print truncated).
      expect(r.tunnelErrors.map((e) => `${new Date(e.t).toISOString()} ${e.code}: ${e.message}`)).toEqual([])
      expect(t.mismatches).toBe(0)
      expect(t.unechoed).toBe(0)
      expect(t.maxAheadBytes).toBeLessThanOrEqual(TUNNEL_AHEAD_BOUND)
    })

    it('no live relay leaves any view: views complete at every sample, no death declared', () => {
      const f = result().figures
      expect(f.views.departures).toBe(0)
      expect(f.views.incompleteSamples).toBe(0)
      expect(f.counters.deathsDeclared).toBe(0)
    })

    it(`relay memory stays bounded (at most ${RSS_GROWTH_BOUND_MB} MB over idle)`, () => expectBoundedMemory(result()))
  })
}

/** A scenario where one relay is cut off or frozen, then healed. */
export function outageScenario(plan: ScenarioPlan): void {
  const d = plan.disturb!
  const out = NAMES[d.relay]!
  const rest = NAMES.map((_, i) => i).filter((i) => i !== d.relay)
  describe(`pressure: ${plan.name}`, () => {
    const result = runOnce(plan)

    it('every request settles: a reply, or a typed error while the relay is out', () => {
      const f = result().figures.requests
      expect(f.unsettled).toBe(0)
      for (const code of Object.keys(f.failures)) expect(OUTAGE_CODES).toContain(code)
    })

    it(`requests between the other relays all succeed throughout`, () => {
      const r = result()
      const loops = rest.flatMap((i) => r.reports[i]!.requests.filter((l) => rest.includes(Number(l.cluster.slice(3)))))
      if (loops.length === 0) throw new Error('no request loop between the other relays: the plan changed')
      expect(requestFigures(loops).failures).toEqual({})
    })

    it('events stay in order and are never duplicated; between the other relays none is lost unreported', () => {
      const r = result()
      expect(r.figures.events.outOfOrder).toBe(0)
      expect(r.figures.events.duplicates).toBe(0)
      expect(r.figures.broadcasts.duplicates).toBe(0)
      const others = rest.map((i) => r.reports[i]!)
      expect(streamFigures(others, (x) => x.published, (x) => x.topics['ev'] ?? {}).lost).toBeLessThanOrEqual(r.figures.dropsReported)
    })

    it('the tunnel never delivers a wrong or misordered byte; when it breaks it says so (a typed error)', () => {
      const r = result()
      expect(r.figures.tunnel.mismatches).toBe(0)
      for (const e of r.tunnelErrors) expect(OUTAGE_CODES, e.message).toContain(e.code)
    })

    it(`the other relays never leave each other's views`, () => {
      const r = result()
      const names: string[] = rest.map((i) => NAMES[i]!)
      const samples = r.samples.filter((s) => names.includes(s.observer)).map((s) => ({ ...s, present: s.present.filter((n) => n !== out), suspected: s.suspected.filter((n) => n !== out) }))
      const f = viewFigures(samples, names)
      expect(f.departures).toBe(0)
      expect(f.incompleteSamples).toBe(0)
    })

    it(`after the heal every view and every pattern is back within ${RECOVERY_BOUND_MS / 1000} s`, () => {
      const rec = result().figures.recoverMs!
      for (const [what, ms] of Object.entries(rec)) expect(ms, `${what} back after ${ms} ms`).toBeLessThanOrEqual(RECOVERY_BOUND_MS)
    })

    it(`relay memory stays bounded (at most ${RSS_GROWTH_BOUND_MB} MB over idle)`, () => expectBoundedMemory(result()))
  })
}
