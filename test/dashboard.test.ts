/// <reference lib="dom" />
/**
 * The dashboard in a real browser: headless Debian Chromium (driven by puppeteer-core) loads
 * the page of one of three real relay processes, shows the three relays in its graph, and
 * shows the rates rise while the test publishes and requests. Every request the page makes
 * goes to the relay (nothing from the internet). The screenshot goes to a temporary folder,
 * or to docs/img/dashboard.png with UPDATE_SCREENSHOT=1.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import puppeteer, { type Browser } from 'puppeteer-core'
import { connect, register, type Connection, type Service } from '@herald/client'
import { ROOT, killAll, startRelay, until } from './harness.js'
import { readyUrls } from './observe-helpers.js'

const CHROMIUM = '/usr/bin/chromium'
const tmp = mkdtempSync(join(tmpdir(), 'herald-dashboard-'))
let browser: Browser | undefined
const closers: Array<Connection | Service> = []

afterAll(async () => {
  await browser?.close()
  await Promise.all(closers.map((c) => c.close().catch(() => {})))
  await killAll()
  rmSync(tmp, { recursive: true, force: true })
})

async function statusPeers(conn: Connection): Promise<Array<{ nodeId: string; topics: string[]; clusters: Record<string, { members: number }> }>> {
  const s = JSON.parse(Buffer.from(await conn.request('$herald.status', '', { timeoutMs: 5000 })).toString()) as { peers: Array<{ nodeId: string; topics: string[]; clusters: Record<string, { members: number }> }> }
  return s.peers
}

describe('the dashboard in headless Chromium', () => {
  it('shows the three relays of the network, and its rates rise while clients publish and request', async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium`)
    const network = ['--network', `dash-${process.pid}`]
    const r1 = await startRelay([...network, '--ui', '127.0.0.1:0'])
    const r2 = await startRelay([...network, '--bootstrap', r1.addrs[0]!])
    const r3 = await startRelay([...network, '--bootstrap', r1.addrs[0]!])
    const ui = readyUrls(r1).ui!
    // Something to show: members of two clusters, subscribers of two topics, on relays 2 and 3.
    for (const [relay, cluster] of [[r2, 'databases'], [r3, 'databases'], [r3, 'thumbnailers']] as const) {
      closers.push(await register({ port: relay.port, cluster, handler: { handleRequest: (r) => r } }))
    }
    let delivered = 0
    for (const [relay, topic] of [[r3, 'orders.created'], [r2, 'orders.created'], [r3, 'audit']] as const) {
      const c = await connect({ port: relay.port })
      closers.push(c)
      await c.subscribe(topic, { handleEvent: () => { delivered++ } })
    }
    const client = await connect({ port: r1.port })
    closers.push(client)
    await until(async () => {
      const peers = await statusPeers(client)
      return peers.length === 2 && peers.some((p) => p.topics.includes('audit')) && peers.some((p) => (p.clusters['thumbnailers']?.members ?? 0) > 0)
    }, 20_000, 'relay 1 to see relays 2 and 3 with their clusters and topics')

    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      ignoreDefaultArgs: true,
      pipe: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', `--user-data-dir=${join(tmp, 'profile')}`, '--hide-scrollbars'],
      defaultViewport: { width: 1400, height: 1180 },
    })
    const page = await browser.newPage()
    const requested: string[] = []
    const pageErrors: string[] = []
    page.on('request', (r) => { requested.push(r.url()) })
    page.on('pageerror', (e) => { pageErrors.push(String(e)) })
    page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()) })
    await page.goto(`${ui}/`, { waitUntil: 'load' })

    // The graph: one node per relay, named by its id.
    await page.waitForFunction(() => document.querySelectorAll('#graph .relay').length === 3, { timeout: 20_000 })
    const ids = await page.$$eval('#graph .relay', (gs) => gs.map((g) => g.getAttribute('data-id')))
    expect(ids.sort()).toEqual([r1.peerId, r2.peerId, r3.peerId].sort())
    expect(await page.$$eval('#graph line', (ls) => ls.length)).toBeGreaterThanOrEqual(2)
    const rateOf = (id: string): Promise<number> => page.$eval(`#${id}`, (e) => Number((e as HTMLElement).dataset['value']))
    expect(await rateOf('kpi-delivered')).toBe(0)
    expect(await rateOf('kpi-requests')).toBe(0)

    // Load: events to both topics, requests to both clusters, until the page shows the rates.
    let stop = false
    const payload = new Uint8Array(64)
    const load = Promise.all([
      (async () => {
        for (let i = 0; !stop; i++) {
          await client.publish(i % 4 === 0 ? 'audit' : 'orders.created', payload)
          if (i % 200 === 0) await new Promise((r) => setTimeout(r, 5)) // a steady rate, not a burst
        }
      })(),
      ...Array.from({ length: 4 }, async (_, k) => {
        while (!stop) await client.request(k === 0 ? 'thumbnailers' : 'databases', 'q', { timeoutMs: 5000 })
      }),
    ])
    // One request nobody serves, so the failures list has something to say.
    await client.request('nobody', 'q', { timeoutMs: 2000 }).catch(() => {})
    try {
      await page.waitForFunction(() => ['kpi-delivered', 'kpi-published', 'kpi-requests'].every((id) => Number(document.getElementById(id)!.dataset['value']) > 0),
        { timeout: 20_000 })
      await page.waitForFunction(() => document.querySelector('#failures')!.textContent!.includes('with no member'), { timeout: 10_000 })
      // A few more points on the charts, then the picture, while the load still runs.
      await page.waitForFunction(() => (window as unknown as { heraldDashboard: { snapshots: number } }).heraldDashboard.snapshots >= 10, { timeout: 20_000 })
      expect(await rateOf('kpi-delivered')).toBeGreaterThan(0)
      expect(await rateOf('kpi-requests')).toBeGreaterThan(0)
      const file = process.env['UPDATE_SCREENSHOT'] === '1' ? join(ROOT, 'docs/img/dashboard.png') : join(tmp, 'dashboard.png')
      await page.screenshot({ path: file as `${string}.png`, fullPage: true })
      expect(readFileSync(file).subarray(1, 4).toString()).toBe('PNG')
    } finally {
      stop = true
      await load
    }
    expect(delivered).toBeGreaterThan(0)

    expect(pageErrors).toEqual([])
    const origin = new URL(ui).origin
    expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([])
    expect(requested.some((u) => u.endsWith('/vendor/uPlot.iife.min.js'))).toBe(true)
  })
})
