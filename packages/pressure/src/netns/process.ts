/**
 * A process started inside a LAN host (`ip netns exec`, which execs the command, so the pid
 * is the command's), with its output kept and its JSON lines parsed for waiting on.
 */
import { spawn, type ChildProcess } from 'node:child_process'

export interface LanProcess {
  child: ChildProcess
  pid: number
  stdout(): string
  stderr(): string
  /** Every complete stdout line that parsed as JSON. */
  lines(): unknown[]
  /** Resolves with the first JSON line (already seen or to come) that `pred` accepts. */
  waitLine<T = Record<string, unknown>>(pred: (x: T) => boolean, opts?: { timeoutMs?: number; what?: string }): Promise<T>
  /** Resolves with the exit code, or the signal's name. */
  exited: Promise<number | string>
  kill(signal?: NodeJS.Signals): void
}

export interface SpawnOptions {
  cwd?: string
  env?: NodeJS.ProcessEnv
}

export function spawnInNamespace(ns: string, argv: string[], opts: SpawnOptions = {}): LanProcess {
  const [command, ...args] = argv
  if (command === undefined) throw new TypeError('spawn needs a command')
  const child = spawn('ip', ['netns', 'exec', ns, command, ...args], { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  let partial = ''
  let done = false
  const parsed: unknown[] = []
  const watchers = new Set<() => void>()
  const notify = (): void => { for (const w of watchers) w() }
  child.stdout!.setEncoding('utf8').on('data', (c: string) => {
    out += c
    partial += c
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      try { parsed.push(JSON.parse(partial.slice(0, i))) } catch { /* not JSON */ }
      partial = partial.slice(i + 1)
    }
    notify()
  })
  child.stderr!.setEncoding('utf8').on('data', (c: string) => { err += c })
  child.stdin!.on('error', () => {})
  const exited = new Promise<number | string>((resolve) => child.on('close', (code, sig) => {
    done = true
    resolve(code ?? sig ?? -1)
    notify()
  }))
  return {
    child,
    pid: child.pid ?? -1,
    stdout: () => out,
    stderr: () => err,
    lines: () => parsed,
    exited,
    kill: (signal = 'SIGKILL') => { if (child.exitCode === null && child.signalCode === null) child.kill(signal) },
    waitLine<T>(pred: (x: T) => boolean, o: { timeoutMs?: number; what?: string } = {}): Promise<T> {
      const what = o.what ?? 'a matching line'
      return new Promise<T>((resolve, reject) => {
        let seen = 0
        const finish = (): void => {
          clearTimeout(timer)
          watchers.delete(check)
        }
        const check = (): void => {
          for (; seen < parsed.length; seen++) {
            if (pred(parsed[seen] as T)) {
              finish()
              resolve(parsed[seen] as T)
              return
            }
          }
          if (done) {
            finish()
            reject(new Error(`${argv.join(' ')} in ${ns} exited before ${what}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`))
          }
        }
        const timer = setTimeout(() => {
          finish()
          reject(new Error(`timed out waiting for ${what} from ${argv.join(' ')} in ${ns}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`))
        }, o.timeoutMs ?? 15_000)
        watchers.add(check)
        check()
      })
    },
  }
}
