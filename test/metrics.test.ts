/**
 * `herald relay --metrics`: a real relay process under load, scraped with a real HTTP client
 * (fetch) while clients publish and request; `promtool check metrics` on what it serves; the
 * counters against what the test sent and what the subscribers received.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { connect, register, type HeraldError } from '@herald/client'
import { ROOT, killAll, startRelay, until } from './harness.js'
import { getText, needPromtool, promtool, readyUrls } from './observe-helpers.js'
import { duplicates, parseExposition, valueOf } from '../packages/node/test/support/exposition.js'

afterAll(() => killAll())

describe('herald relay --metrics', () => {
  it('under load: promtool check metrics is clean on every scrape, and the counters equal what the clients sent', async () => {
    needPromtool()
    const relay = await startRelay(['--metrics', '127.0.0.1:0'])
    const url = `${readyUrls(relay).metrics!}/metrics`
    const port = relay.port
    const math = await register({ port, cluster: 'math', handler: { handleRequest: (r) => r }, limits: { requestConcurrency: 64 } })
    const failing = await register({ port, cluster: 'failing', handler: { handleRequest: () => { throw new Error('refused on purpose') } } })
    const got = [0, 0]
    const subs = await Promise.all([0, 1].map(async (i) => {
      const c = await connect({ port })
      await c.subscribe('news', { handleEvent: () => { got[i]!++ } }, { memory: 256 * 2 ** 20 })
      return c
    }))
    const pub = await connect({ port })
    const cli = await connect({ port })

    // Publishers and requesters run until five scrapes are done: the scrapes happen under load.
    const payload = new Uint8Array(64)
    let stop = false
    let sent = 0
    const outcomes: string[] = []
    const load = Promise.all([
      (async () => {
        while (!stop) {
          await pub.publish('news', payload)
          // Publishing never waits while the socket takes it: let the scrapes in now and then.
          if (++sent % 2000 === 0) await new Promise((r) => setImmediate(r))
        }
      })(),
      ...Array.from({ length: 32 }, async () => {
        while (!stop) outcomes.push(await cli.request('math', 'q', { timeoutMs: 10_000 }).then(() => 'ok', (e: HeraldError) => e.code))
      }),
    ])
    const during: string[] = []
    while (during.length < 5) {
      const r = await getText(url)
      expect(r.status).toBe(200)
      during.push(r.text)
    }
    stop = true
    await load
    const N = sent
    const R = outcomes.length
    for (let i = 0; i < 10; i++) expect(await cli.request('failing', 'q', { timeoutMs: 5000 }).catch((e: HeraldError) => e.code)).toBe('REMOTE')
    for (let i = 0; i < 5; i++) expect(await cli.request('nobody', 'q', { timeoutMs: 5000 }).catch((e: HeraldError) => e.code)).toBe('NO_MEMBERS')
    await until(() => got[0] === N && got[1] === N, 30_000, 'both subscribers to receive every event')

    // The counters moved from scrape to scrape: they were taken under load.
    const okDuring = during.map((t) => valueOf(parseExposition(t), 'herald_requests_total', { cluster: 'math', origin: 'client', outcome: 'ok' }) ?? 0)
    expect(new Set(okDuring).size).toBeGreaterThan(1)
    for (const text of during) expect(await promtool(['check', 'metrics'], text)).toEqual({ code: 0, output: '' })

    const final = await getText(url)
    expect(final.type).toBe('text/plain; version=0.0.4; charset=utf-8')
    expect(await promtool(['check', 'metrics'], final.text)).toEqual({ code: 0, output: '' })
    const s = parseExposition(final.text)
    expect(duplicates(s)).toEqual([])
    expect(N).toBeGreaterThan(0)
    expect(outcomes.filter((o) => o === 'ok')).toHaveLength(R)
    expect(valueOf(s, 'herald_requests_total', { cluster: 'math', origin: 'client', outcome: 'ok' })).toBe(R)
    expect(valueOf(s, 'herald_request_duration_seconds_count', { cluster: 'math' })).toBe(R)
    expect(valueOf(s, 'herald_requests_total', { cluster: 'failing', origin: 'client', outcome: 'remote_error' })).toBe(10)
    expect(valueOf(s, 'herald_requests_total', { cluster: 'nobody', origin: 'client', outcome: 'no_members' })).toBe(5)
    expect(valueOf(s, 'herald_events_published_total', { topic: 'news' })).toBe(N)
    expect(valueOf(s, 'herald_events_delivered_total', { topic: 'news' })).toBe(got[0]! + got[1]!)
    expect(valueOf(s, 'herald_events_dropped_total', { topic: 'news' })).toBe(0)
    expect(valueOf(s, 'herald_topic_subscribers', { topic: 'news' })).toBe(2)
    expect(valueOf(s, 'herald_cluster_members', { cluster: 'math' })).toBe(1)
    expect(valueOf(s, 'herald_clients_connected')).toBe(6)
    // The buckets of a histogram only grow with the bound.
    const buckets = s.filter((x) => x.name === 'herald_request_duration_seconds_bucket' && x.labels['cluster'] === 'math').map((x) => x.value)
    expect(buckets).toEqual([...buckets].sort((a, b) => a - b))
    await Promise.all([...subs, pub, cli].map((c) => c.close()))
    await Promise.all([math.close(), failing.close()])
  })

  it('/healthz and /readyz of a relay process; readyz waits for the relay named by --bootstrap', async () => {
    const a = await startRelay(['--metrics', '127.0.0.1:0'])
    expect(await getText(`${readyUrls(a).metrics!}/healthz`)).toMatchObject({ status: 200, text: 'ok\n' })
    expect(await getText(`${readyUrls(a).metrics!}/readyz`)).toMatchObject({ status: 200, text: 'ready: alone (no bootstrap addresses)\n' })
    const b = await startRelay(['--metrics', '127.0.0.1:0', '--bootstrap', a.addrs[0]!])
    const readyz = `${readyUrls(b).metrics!}/readyz`
    await until(async () => (await getText(readyz)).status === 200, 15_000, 'relay 2 to be ready')
    expect((await getText(readyz)).text).toBe('ready: 1 other relay known\n')
    a.kill('SIGTERM')
    b.kill('SIGTERM')
  })

  it('the scrape configuration and alert rules of docs/operations.md pass promtool, and name metrics a relay serves', async () => {
    needPromtool()
    const doc = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8')
    const block = (first: string): string => {
      const m = new RegExp('```yaml\\n(# ' + first.replace('.', '\\.') + '\\n[\\s\\S]*?)```').exec(doc)
      if (m === null) throw new Error(`no yaml block starting "# ${first}" in docs/operations.md`)
      return m[1]!
    }
    const dir = mkdtempSync(join(tmpdir(), 'herald-prom-'))
    try {
      const rules = block('herald-alerts.yml')
      writeFileSync(join(dir, 'herald-alerts.yml'), rules)
      writeFileSync(join(dir, 'prometheus.yml'), block('prometheus.yml'))
      const checked = await promtool(['check', 'rules', join(dir, 'herald-alerts.yml')])
      expect(checked.code).toBe(0)
      expect(checked.output).toMatch(/SUCCESS: 10 rules found/)
      expect((await promtool(['check', 'config', join(dir, 'prometheus.yml')])).code).toBe(0)
      // Every herald_ metric the rules use is one a relay serves.
      const relay = await startRelay(['--metrics', '127.0.0.1:0'])
      const served = (await getText(`${readyUrls(relay).metrics!}/metrics`)).text
      const used = [...new Set(rules.match(/herald_[a-z_]+/g))].map((n) => n.replace(/_bucket$/, ''))
      expect(used.length).toBeGreaterThan(5)
      for (const name of used) expect(served).toContain(`# TYPE ${name} `)
      relay.kill('SIGTERM')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
