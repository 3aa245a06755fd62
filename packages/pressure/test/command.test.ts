/**
 * `herald pressure` in process: commander with exitOverride for the usage contract, and a
 * real run driven through injected stdin/stdout, the control endpoint and an AbortSignal.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { request } from 'node:http'
import { PassThrough } from 'node:stream'
import { CommanderError } from 'commander'
import { closeAll, dial, payload, readAll, startTarget, until } from './helpers.js'
import { pressureCommand, type PressureProxy } from '../src/index.js'

afterAll(closeAll)

/** Parses `args` with exits turned into exceptions; returns the exit code and what went to stderr/stdout. */
async function usage(args: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = ''
  let out = ''
  const cmd = pressureCommand().exitOverride().configureOutput({ writeErr: (s) => { err += s }, writeOut: (s) => { out += s } })
  try {
    await cmd.parseAsync(args, { from: 'user' })
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e
    return { code: e.exitCode, err, out }
  }
  throw new Error(`"${args.join(' ')}" ran instead of failing`)
}

const BASE = ['--listen', '127.0.0.1:0', '--target', '127.0.0.1:9']

describe('usage errors exit 2 with one line', () => {
  const cases: Array<[string[], RegExp]> = [
    [[...BASE, '--loss', '150%'], /^error: option '--loss <P>' argument '150%' is invalid\. loss must be at least 0 and below 100%, got "150%"$/],
    [[...BASE, '--latency', '-5ms'], /latency must not be negative, got "-5ms"$/],
    [[...BASE, '--bandwidth', '0'], /bandwidth must be greater than 0, got "0"/],
    [[...BASE, '--profile', 'nope'], /unknown profile "nope" \(known: none, lan, wan, lossy-wan, satellite, mobile, edge\)$/],
    [[...BASE, '--set', 'up.loss=2'], /loss must be at least 0 and below 100%/],
    [[...BASE, '--set', 'sideways'], /--set takes \[up\.\|down\.\]KEY=VALUE/],
    [[...BASE, '--rto', '10ms'], /rto must be at least 200ms/],
    [[...BASE, '--stats', 'often'], /--stats must be a duration/],
    [['--listen', '127.0.0.1:0'], /^error: required option '--target <HOST:PORT>' not specified$/],
    [['--listen', 'nowhere', '--target', '127.0.0.1:9'], /--listen must be HOST:PORT, got "nowhere"/],
    [[...BASE, '--frobnicate'], /^error: unknown option '--frobnicate'$/],
  ]
  for (const [args, message] of cases) {
    it(args.slice(4).join(' ') || args.join(' '), async () => {
      const r = await usage(args)
      expect(r.code).toBe(2)
      const lines = r.err.split('\n').filter((l) => l !== '')
      expect(lines).toHaveLength(1)
      expect(lines[0]).toMatch(message)
    })
  }

  it('--help tells the truth and exits 0', async () => {
    const r = await usage(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toMatch(/--listen <HOST:PORT>/)
    expect(r.out).toMatch(/lossy-wan\s+a bad long-haul path: 250 ms ± 50 ms one way, 10% loss, 1 Mbit\/s/)
    expect(r.out).toMatch(/partition \[up\|down\|both\] \[SCOPE\]/)
  })
})

interface Line { event: string; [k: string]: unknown }

/** Runs the command in process; resolves once its ready line is out. */
async function start(args: string[]): Promise<{ lines: Line[]; stdin: PassThrough; proxy: PressureProxy; done: Promise<void>; abort: AbortController }> {
  const stdin = new PassThrough()
  const stdout = new PassThrough()
  const lines: Line[] = []
  let partial = ''
  stdout.setEncoding('utf8').on('data', (c: string) => {
    partial += c
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      lines.push(JSON.parse(partial.slice(0, i)) as Line)
      partial = partial.slice(i + 1)
    }
  })
  const abort = new AbortController()
  let proxy: PressureProxy | undefined
  const done = pressureCommand({ stdin, stdout, signal: abort.signal, onReady: (p) => { proxy = p } })
    .exitOverride()
    .parseAsync([...args, '--json'], { from: 'user' })
    .then(() => undefined)
  await until(() => lines.some((l) => l.event === 'ready'), 'the ready line')
  return { lines, stdin, proxy: proxy!, done, abort }
}

function post(port: number, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/' }, (res) => {
      res.resume().on('end', () => resolve(res.statusCode ?? 0))
    })
    req.on('error', reject)
    req.end(body)
  })
}

describe('a run in process', () => {
  it('starts from the profile, applies flags then --set, forwards, obeys stdin and the control endpoint, and stops on quit', async () => {
    const target = await startTarget('echo')
    const run = await start([
      '--listen', '127.0.0.1:0', '--target', `127.0.0.1:${target.port}`, '--profile', 'lan', '--latency', '5ms',
      '--set', 'down.bandwidth=2mbit', '--control', '127.0.0.1:0', '--stats', '20ms', '--seed', '7',
    ])
    const ready = run.lines.find((l) => l.event === 'ready')!
    expect(ready['port']).toBe(run.proxy.port)
    expect(ready['listen']).toBe(`127.0.0.1:${run.proxy.port}`)
    expect(run.proxy.settings.up).toMatchObject({ latencyMs: 5, jitterMs: 0.1, bandwidth: 125_000_000 })
    expect(run.proxy.settings.down).toMatchObject({ latencyMs: 5, bandwidth: 250_000 })

    const s = await dial(run.proxy.port)
    const back = readAll(s)
    s.end(payload(10_000, 3))
    expect((await back).equals(payload(10_000, 3))).toBe(true)
    await until(() => run.lines.some((l) => l.event === 'stats' && (l['totals'] as { up: { bytesOut: number } }).up.bytesOut === 10_000), 'a stats line with the transfer')

    run.stdin.write('set loss 5%\nfrobnicate\n')
    await until(() => run.lines.filter((l) => l.event === 'reply').length === 2, 'two replies')
    const [ok, bad] = run.lines.filter((l) => l.event === 'reply')
    expect(ok).toMatchObject({ source: 'stdin', command: 'set loss 5%', ok: true })
    expect(bad).toMatchObject({ source: 'stdin', command: 'frobnicate', ok: false, lines: ['error: unknown command "frobnicate" (try "help")'] })
    expect(run.proxy.settings.up.loss).toBe(0.05)

    const control = Number(String(ready['control']).split(':')[1])
    expect(await post(control, 'partition up')).toBe(200)
    expect(run.proxy.stats().state.partitioned.up).toBe(true)
    expect(run.lines.some((l) => l.event === 'reply' && l['source'] === 'control' && l['command'] === 'partition up')).toBe(true)

    run.stdin.write('quit\n')
    await run.done
    expect(run.lines.at(-1)).toMatchObject({ event: 'reply', lines: ['stopping'] })
  })

  it('stops when its signal aborts, closing the port', async () => {
    const target = await startTarget('echo')
    const run = await start(['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${target.port}`, '--stats', '0'])
    const port = run.proxy.port
    run.abort.abort()
    await run.done
    await expect(dial(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' })
    expect(run.lines.map((l) => l.event)).toEqual(['ready'])
  })
})
