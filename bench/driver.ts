/**
 * Driver-side helpers shared by the workloads: worker processes (through test/harness.ts, so
 * they are always killed), their JSON lines, and the once-a-second progress line.
 */
import { createServer } from 'node:net'
import { join } from 'node:path'
import { ROOT, spawnNode, type Proc } from '../test/harness.js'
import { onJsonLines } from './lines.js'
import { cpuSecondsOf } from './proc-stats.js'

export const TSX = ['--import', 'tsx']

/** Node flags for every worker process (BENCH_WORKER_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/p"). */
const WORKER_FLAGS = (process.env['BENCH_WORKER_NODE_ARGS'] ?? '').split(/\s+/).filter((f) => f !== '')

/** Starts bench/workers/<script> under tsx. */
export function worker(script: string, args: string[]): Proc {
  return spawnNode(join(ROOT, 'bench/workers', script), args, { nodeArgs: [...TSX, ...WORKER_FLAGS] })
}

export interface Worker {
  proc: Proc
  name: string
  /** The last {"progress":true,...} line's fields. */
  progress: Record<string, unknown>
  /** Resolves with the first line that has `key: true` (e.g. "ready", "measuring"). */
  line<T = Record<string, unknown>>(key: string): Promise<T>
  /** Writes one JSON line to the worker's stdin. */
  send(msg: Record<string, unknown>): void
}

/**
 * Wraps a worker process: collects its JSON lines; every `line(key)` promise rejects (with the
 * worker's stderr) if it exits first.
 */
export function watchWorker(proc: Proc, name: string): Worker {
  const seen = new Map<string, Record<string, unknown>>()
  const waiters = new Map<string, Array<(m: Record<string, unknown>) => void>>()
  const w: Worker = {
    proc,
    name,
    progress: {},
    line<T>(key: string): Promise<T> {
      const got = seen.get(key)
      if (got !== undefined) return Promise.resolve(got as T)
      const p = new Promise<T>((resolve, reject) => {
        const list = waiters.get(key) ?? []
        list.push((m) => resolve(m as T))
        waiters.set(key, list)
        void proc.exited.then((code) => {
          // Give the stdout pipe a moment: the line may still be in flight when 'exit' fires.
          setTimeout(() => { if (!seen.has(key)) reject(new Error(`${name} exited (${String(code)}) before "${key}"\n${proc.stderr().slice(-3000)}`)) }, 200)
        })
      })
      p.catch(() => {}) // marks it handled: a caller that awaits it still sees the rejection
      return p
    },
    send(msg) {
      proc.child.stdin!.write(JSON.stringify(msg) + '\n')
    },
  }
  onJsonLines(proc, (msg) => {
    if (msg['progress'] === true) w.progress = msg
    for (const [k, v] of Object.entries(msg)) {
      if (v !== true || seen.has(k)) continue
      seen.set(k, msg)
      for (const f of waiters.get(k) ?? []) f(msg)
      waiters.delete(k)
    }
  })
  return w
}

const liveWorkers = new Set<Proc>()

export function startWorker(script: string, args: string[], name: string): Worker {
  const proc = worker(script, args)
  liveWorkers.add(proc)
  void proc.exited.then(() => liveWorkers.delete(proc))
  return watchWorker(proc, name)
}

/** Kills the worker processes still running (each by its own handle). */
export async function killWorkers(): Promise<void> {
  const procs = [...liveWorkers]
  for (const p of procs) p.kill('SIGKILL')
  await Promise.all(procs.map((p) => p.exited))
}

/** Rejects after `ms` with `what` in the message. */
export function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  return Promise.race([
    p,
    new Promise<T>((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms) }),
  ]).finally(() => clearTimeout(timer))
}

/** A free TCP port on 127.0.0.1 (bind port 0, read it back, release it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

export const fmtRate = (n: number): string =>
  n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(0)}k` : n.toFixed(0)

/**
 * Prints a progress line every second: counters from the workers' progress lines (rate since
 * the last line), CPU % and RSS of each server process.
 */
export function ticker(
  label: string,
  progress: (line: string) => void,
  counters: () => Record<string, number>,
  servers: Array<{ label: string; pid: number; rssNow(): number }>,
): () => void {
  const t0 = Date.now()
  let last = { t: t0, c: counters(), cpu: servers.map((s) => safeCpu(s.pid)) }
  const timer = setInterval(() => {
    const now = Date.now()
    const dt = (now - last.t) / 1000
    const c = counters()
    const cpu = servers.map((s) => safeCpu(s.pid))
    const parts = Object.entries(c).map(([k, v]) => `${k} ${v.toLocaleString('en-US')} (${fmtRate((v - (last.c[k] ?? 0)) / dt)}/s)`)
    const srv = servers.map((s, i) => `${s.label} cpu ${(((cpu[i]! - last.cpu[i]!) / dt) * 100).toFixed(0)}% rss ${(s.rssNow() / 2 ** 20).toFixed(0)} MiB`)
    progress(`  ${label} ${((now - t0) / 1000).toFixed(0).padStart(3)}s  ${[...parts, ...srv].join('  ')}`)
    last = { t: now, c, cpu }
  }, 1000)
  return () => clearInterval(timer)
}

function safeCpu(pid: number): number {
  try { return cpuSecondsOf(pid) } catch { return 0 }
}
