/**
 * For the tests of metrics, logs and the dashboard against real relay processes: the URLs a
 * relay's ready line names, HTTP fetches, and promtool (Debian package `prometheus`).
 */
import { spawn, spawnSync } from 'node:child_process'
import type { RelayProc } from './harness.js'

/** The metrics and dashboard URLs of a relay's --json ready line. */
export function readyUrls(p: RelayProc): { metrics?: string; ui?: string } {
  const line = p.stdout().split('\n').find((l) => l.startsWith('{"event":"ready"'))
  if (line === undefined) throw new Error('no ready line')
  return JSON.parse(line) as { metrics?: string; ui?: string }
}

export async function getText(url: string): Promise<{ status: number; text: string; type: string | null }> {
  const res = await fetch(url)
  return { status: res.status, text: await res.text(), type: res.headers.get('content-type') }
}

const PROMTOOL = '/usr/bin/promtool'

/** Fails with the install line when promtool is missing (CI installs it). */
export function needPromtool(): void {
  if (spawnSync(PROMTOOL, ['--version']).status !== 0) throw new Error(`${PROMTOOL} not found: apt-get install -y prometheus`)
}

/** Runs promtool with `args`, `input` on stdin. */
export function promtool(args: string[], input?: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(PROMTOOL, args, { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    p.stdout.setEncoding('utf8').on('data', (c: string) => { output += c })
    p.stderr.setEncoding('utf8').on('data', (c: string) => { output += c })
    p.on('error', reject)
    p.on('close', (code) => resolve({ code, output }))
    p.stdin.on('error', () => {})
    p.stdin.end(input ?? '')
  })
}
