/**
 * The live control language (stdin and the control endpoint share it) and the HTTP endpoint
 * itself, against a real proxy.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { closeAll, dial, startProxy, startTarget, until, type Target } from './helpers.js'
import {
  profile, resolveSettings, runControlCommand, settingsOf, startControlEndpoint, type ControlEndpoint, type PressureProxy,
} from '../src/index.js'

let target: Target
let proxy: PressureProxy
beforeAll(async () => {
  target = await startTarget('echo')
  proxy = await startProxy(target)
})
afterAll(closeAll)

const run = (line: string): ReturnType<typeof runControlCommand> => runControlCommand(proxy, line)

describe('control commands', () => {
  it('set changes settings live, both ways or one way, with units', () => {
    expect(run('set latency 250ms jitter 50ms loss 10% bandwidth 1mbit').ok).toBe(true)
    for (const d of [proxy.settings.up, proxy.settings.down]) expect([d.latencyMs, d.jitterMs, d.loss, d.bandwidth]).toEqual([250, 50, 0.1, 125_000])
    expect(run('set down bandwidth off').ok).toBe(true)
    expect([proxy.settings.up.bandwidth, proxy.settings.down.bandwidth]).toEqual([125_000, Infinity])
    run('set up rto 300ms slice 64 slice-gap 1ms segment 500 buffer 1MiB burst 3000 correlation 25%')
    expect(proxy.settings.up).toMatchObject({ rtoMs: 300, sliceBytes: 64, sliceGapMs: 1, segmentBytes: 500, bufferBytes: 1024 * 1024, burstBytes: 3000, correlation: 0.25 })
    run('set up rto auto buffer auto slice off')
    expect(proxy.settings.up).toMatchObject({ rtoMs: undefined, bufferBytes: undefined, sliceBytes: 0 })
  })

  it('profile replaces every setting', () => {
    run('set segment 100')
    const r = run('profile lossy-wan')
    expect(r.ok).toBe(true)
    expect(r.lines[0]).toMatch(/^profile lossy-wan: both ways: latency 250ms, jitter 50ms, loss 10%, bandwidth 1mbit/)
    expect(proxy.resolvedSettings).toEqual(resolveSettings(settingsOf(profile('lossy-wan'))))
    run('profile none')
  })

  it('refuses bad input with one error line and changes nothing', () => {
    const before = proxy.settings
    const cases: Array<[string, RegExp]> = [
      ['set loss 150%', /^error: loss must be at least 0 and below 100%, got "150%"$/],
      ['set latency -5ms', /^error: latency must not be negative/],
      ['set bandwidth 0', /^error: bandwidth must be greater than 0/],
      ['set latency', /^error: usage: set \[up\|down\] KEY VALUE/],
      ['set colour blue', /^error: unknown setting "colour"/],
      ['set rto 50ms', /^error: rto must be at least 200ms/],
      ['profile nope', /^error: unknown profile "nope"/],
      ['partition sideways', /^error: scope must be all, existing, new or a connection id, got "sideways"$/],
      ['heal all now', /^error: unexpected "now"/],
      ['stall', /^error: usage: stall DURATION/],
      ['stall soon', /^error: stall must be a duration/],
      ['target nowhere', /^error: target must be HOST:PORT/],
      ['frobnicate', /^error: unknown command "frobnicate" \(try "help"\)$/],
    ]
    for (const [line, message] of cases) {
      const r = run(line)
      expect(r.ok, line).toBe(false)
      expect(r.lines, line).toHaveLength(1)
      expect(r.lines[0], line).toMatch(message)
    }
    expect(proxy.settings).toEqual(before)
  })

  it('partition, stall, half-open, reset and heal act on the scope given', async () => {
    const s = await dial(proxy.port)
    await until(() => proxy.connections().some((c) => c.state === 'open'), 'an open connection')
    const id = proxy.connections()[0]!.id
    expect(run(`partition up #${id}`).lines).toEqual([`partitioned up (${id})`])
    expect(proxy.connection(id)!.up.state).toBe('partitioned')
    expect(proxy.stats().state.partitioned).toEqual({ up: false, down: false })
    expect(run('stall 1s down existing').ok).toBe(true)
    expect(proxy.connection(id)!.down.state).toBe('stalled')
    expect(run('half-open new').ok).toBe(true)
    expect(proxy.stats().state.halfOpen).toBe(true)
    expect(run('heal').ok).toBe(true)
    expect(proxy.stats().state.halfOpen).toBe(false)
    expect(proxy.connection(id)!.up.state).toBe('flowing')
    expect(run('list').lines[0]).toMatch(new RegExp(`^#${id} 127\\.0\\.0\\.1:\\d+ -> 127\\.0\\.0\\.1:${target.port} open`))
    expect(run('reset').lines).toEqual(['reset 1 connection'])
    expect(proxy.stats().state.refusing).toBe(false)
    await until(() => s.destroyed, 'the client to be reset')
    expect(run('reset new').lines).toEqual(['reset 0 connections; refusing new connections until heal'])
    expect(proxy.stats().state.refusing).toBe(true)
    run('heal')
  })

  it('target, show, stats, help and quit', () => {
    expect(run('target 127.0.0.1:4321').lines).toEqual(['new connections go to 127.0.0.1:4321'])
    expect(proxy.target).toEqual({ host: '127.0.0.1', port: 4321 })
    proxy.retarget({ host: '127.0.0.1', port: target.port })
    expect(run('show').lines[0]).toMatch(/^both ways: latency 0ms/)
    expect(run('stats').lines[0]).toMatch(/^connections 0 open, \d+ accepted/)
    expect(run('help').lines.join('\n')).toMatch(/partition \[up\|down\|both\] \[SCOPE\]/)
    expect(run('quit')).toMatchObject({ ok: true, quit: true })
    expect(run('')).toMatchObject({ ok: true, lines: [] })
  })
})

function http(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path }, (res) => {
      let text = ''
      res.setEncoding('utf8').on('data', (c: string) => { text += c }).on('end', () => resolve({ status: res.statusCode ?? 0, text }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('the HTTP control endpoint', () => {
  let endpoint: ControlEndpoint
  const seen: string[] = []
  beforeAll(async () => {
    endpoint = await startControlEndpoint({ proxy, listen: { host: '127.0.0.1', port: 0 }, onCommand: (line) => seen.push(line) })
  })
  afterAll(() => endpoint.close())

  it('runs a POSTed command and answers its lines', async () => {
    const r = await http(endpoint.address.port, 'POST', '/', 'partition down new')
    expect(r).toEqual({ status: 200, text: 'partitioned down (new)\n' })
    expect(proxy.stats().state.partitioned).toEqual({ up: false, down: true })
    expect(seen).toEqual(['partition down new'])
    await http(endpoint.address.port, 'POST', '/command', 'heal')
    expect(proxy.stats().state.partitioned).toEqual({ up: false, down: false })
  })

  it('answers 400 with the error line to a bad command, 404 elsewhere, 413 to a huge body', async () => {
    expect(await http(endpoint.address.port, 'POST', '/', 'set loss 150%')).toEqual({ status: 400, text: 'error: loss must be at least 0 and below 100%, got "150%"\n' })
    expect((await http(endpoint.address.port, 'GET', '/nope')).status).toBe(404)
    expect((await http(endpoint.address.port, 'POST', '/', 'x'.repeat(100_000))).status).toBe(413)
  })

  it('serves stats, connections and settings as JSON', async () => {
    const stats = JSON.parse((await http(endpoint.address.port, 'GET', '/stats')).text) as { target: { port: number }; connections: { accepted: number } }
    expect(stats.target.port).toBe(target.port)
    expect(stats.connections.accepted).toBeGreaterThan(0)
    expect(JSON.parse((await http(endpoint.address.port, 'GET', '/connections')).text)).toEqual([])
    const settings = JSON.parse((await http(endpoint.address.port, 'GET', '/settings')).text) as { up: { bandwidth: unknown } }
    expect(settings.up.bandwidth).toBe('Infinity')
  })
})
