/**
 * The exit codes through a real process (dist/main.js, built by `tsc -b`): 2 and one line for
 * a usage error, 1 and one line when it cannot listen, 0 when stopped by SIGTERM.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { closeAll, dial, payload, readAll, startTarget } from './helpers.js'

const MAIN = join(fileURLToPath(new URL('.', import.meta.url)), '../dist/main.js')
const children = new Set<ChildProcess>()
afterAll(async () => {
  for (const c of children) c.kill('SIGKILL')
  await closeAll()
})

interface Run { child: ChildProcess; out: () => string; err: () => string; exited: Promise<number | string> }

function main(args: string[]): Run {
  const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  children.add(child)
  let out = ''
  let err = ''
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  const exited = new Promise<number | string>((r) => child.on('exit', (code, sig) => {
    children.delete(child)
    r(code ?? sig ?? -1)
  }))
  return { child, out: () => out, err: () => err, exited }
}

const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '')

describe('dist/main.js', () => {
  for (const bad of [['--loss', '150%'], ['--latency', '-5ms'], ['--bandwidth', '0'], ['--profile', 'nope']]) {
    it(`exits 2 with one line for ${bad.join(' ')}`, async () => {
      const r = main(['--listen', '127.0.0.1:0', '--target', '127.0.0.1:9', ...bad])
      expect(await r.exited).toBe(2)
      expect(lines(r.err())).toHaveLength(1)
      expect(r.err()).toContain(bad[1])
      expect(r.out()).toBe('')
    })
  }

  it('exits 1 with one line when it cannot listen', async () => {
    const busy: Server = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as { port: number }).port
    try {
      const r = main(['--listen', `127.0.0.1:${port}`, '--target', '127.0.0.1:9'])
      expect(await r.exited).toBe(1)
      expect(lines(r.err())).toEqual([expect.stringMatching(new RegExp(`^herald pressure: cannot listen on 127\\.0\\.0\\.1:${port}: .*EADDRINUSE`))])
    } finally {
      busy.close()
    }
  })

  it('forwards once ready, and exits 0 on SIGTERM', async () => {
    const target = await startTarget('echo')
    const r = main(['--listen', '127.0.0.1:0', '--target', `127.0.0.1:${target.port}`, '--profile', 'lan', '--json'])
    while (!r.out().includes('\n')) {
      if (r.child.exitCode !== null) throw new Error(`exited early: ${r.err()}`)
      await new Promise((res) => r.child.stdout!.once('data', res))
    }
    const ready = JSON.parse(lines(r.out())[0]!) as { event: string; port: number }
    expect(ready.event).toBe('ready')
    const s = await dial(ready.port)
    const back = readAll(s)
    s.end(payload(50_000, 8))
    expect((await back).equals(payload(50_000, 8))).toBe(true)
    r.child.kill('SIGTERM')
    expect(await r.exited).toBe(0)
    expect(r.err()).toBe('')
  })
})
