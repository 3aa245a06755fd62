/**
 * The one harness for tests and benchmarks that need real processes: relays and CLI
 * commands started from the built CLI, ports chosen by the OS (0) and read back from the
 * readiness line, every process killed in teardown (`killAll`).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')
/** The herald command as npm installs it (a launcher of packages/cli/dist/main.js); HERALD_CLI overrides. */
export const CLI = process.env['HERALD_CLI'] ?? join(ROOT, 'packages/cli/bin/herald.js')

const live = new Set<ChildProcess>()

export interface Proc {
  readonly child: ChildProcess
  readonly pid: number
  stdout(): string
  stderr(): string
  /** Resolves with the first match of `re` in stdout or stderr (whichever sees it). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  /** Resolves with the exit code (or the signal's name). Output may still be arriving: see `closed`. */
  exited: Promise<number | string>
  /** Resolves once the process exited and its stdout and stderr are read to the end. */
  closed: Promise<number | string>
  kill(signal?: NodeJS.Signals): void
}

export interface SpawnOptions {
  env?: Record<string, string>
  input?: string | Uint8Array
  cwd?: string
  /** Extra node flags, e.g. --cpu-prof. */
  nodeArgs?: string[]
}

/** Node flags a relay runs with (the shebang of packages/cli/bin/herald.js, and `npm start`). */
export const RELAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--initial-old-space-size=64']

/** Starts `node <script> ...args` (default script: the herald CLI). */
export function spawnNode(script: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  live.add(child)
  let out = ''
  let err = ''
  const watchers: Array<() => void> = []
  child.stdout!.setEncoding('utf8').on('data', (c: string) => { out += c; for (const w of watchers) w() })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c; for (const w of watchers) w() })
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      live.delete(child)
      resolve(code ?? signal ?? -1)
      for (const w of watchers) w()
    })
  })
  const closed = new Promise<number | string>((resolve) => {
    child.on('close', (code, signal) => resolve(code ?? signal ?? -1))
  })
  if (opts.input !== undefined) child.stdin!.end(opts.input)
  child.stdin!.on('error', () => {})
  let exitedFlag = false
  void exited.then(() => { exitedFlag = true })
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    exited,
    closed,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal) },
    waitFor(re: RegExp, timeoutMs = 15_000) {
      return new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = (): void => {
          const m = out.match(re) ?? err.match(re)
          if (m !== null) { done(); resolve(m); return }
          if (exitedFlag) { done(); reject(new Error(`process exited before printing ${String(re)}\nstdout: ${out}\nstderr: ${err}`)) }
        }
        const timer = setTimeout(() => { done(); reject(new Error(`timed out waiting for ${String(re)}\nstdout: ${out}\nstderr: ${err}`)) }, timeoutMs)
        const done = (): void => {
          clearTimeout(timer)
          const i = watchers.indexOf(check)
          if (i >= 0) watchers.splice(i, 1)
        }
        watchers.push(check)
        check()
      })
    },
  }
}

/** Starts a herald CLI command. */
export function spawnCli(args: string[], opts: SpawnOptions = {}): Proc {
  return spawnNode(CLI, args, opts)
}

/** Runs a herald CLI command to completion. */
export async function runCli(args: string[], opts: SpawnOptions & { timeoutMs?: number } = {}): Promise<{ code: number | string; stdout: string; stderr: string }> {
  const p = spawnCli(args, opts)
  const timer = setTimeout(() => p.kill(), opts.timeoutMs ?? 30_000)
  // 'exit' can come before the last of the output has been read: wait for the pipes to close.
  const code = await p.closed
  clearTimeout(timer)
  return { code, stdout: p.stdout(), stderr: p.stderr() }
}

export interface RelayProc extends Proc {
  port: number
  peerId: string
  addrs: string[]
}

/**
 * Starts `herald relay --dev --port 0 --json` and waits for its ready line. With
 * `{ dev: false }` (for --key-file relays) the overlay is still kept on loopback, without mDNS.
 */
export async function startRelay(args: string[] = [], opts: SpawnOptions = {}, mode: { dev?: boolean } = {}): Promise<RelayProc> {
  const base = mode.dev === false ? ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'] : ['--dev']
  const p = spawnCli(['relay', ...base, '--port', '0', '--json', ...args], { ...opts, nodeArgs: [...RELAY_NODE_FLAGS, ...(opts.nodeArgs ?? [])] })
  const m = await p.waitFor(/^(\{"event":"ready".*\})$/m)
  const ready = JSON.parse(m[1] as string) as { port: number; peerId: string; addrs: string[] }
  return Object.assign(p, { port: ready.port, peerId: ready.peerId, addrs: ready.addrs })
}

/** Kills every process the harness started (call in afterEach/afterAll). */
export async function killAll(): Promise<void> {
  const waits: Array<Promise<void>> = []
  for (const child of live) {
    waits.push(new Promise<void>((r) => { child.once('exit', () => r()); if (child.exitCode !== null || child.signalCode !== null) r() }))
    child.kill('SIGKILL')
  }
  await Promise.all(waits)
}

/** Resident set size of a process, in bytes (Linux /proc). */
export function rssOf(pid: number): number {
  const m = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/)
  return m === null ? 0 : Number(m[1]) * 1024
}

/** Polls `pred` until it is true (for state only visible by polling, e.g. RSS or /proc). */
export async function until(pred: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
