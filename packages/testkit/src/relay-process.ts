/**
 * One real relay for a test: `herald relay --dev --port 0 --json` in a child process (through
 * the guard, so it dies with the test), its ready line read back, and the ways a test treats
 * a relay: connect to it (directly or through a pressure proxy), ask its status, kill it with
 * SIGKILL, freeze and thaw it (SIGSTOP/SIGCONT), stop it gracefully.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { TimeoutError, connect, register, type Connection, type ConnectOptions, type RegisterOptions, type Service } from '@herald/client'
import type { RelayStatus } from '@herald/node'
import { createPressureProxy, type PressureProxy } from '@herald/pressure'
import { track, trackClosable } from './cleanup.js'
import { DEFAULT_READY_TIMEOUT_MS, DEFAULT_STATUS_TIMEOUT_MS, DEFAULT_STOP_TIMEOUT_MS, STDERR_TAIL_BYTES } from './constants.js'
import { proxyInitOf, type PressureSpec } from './pressure-spec.js'

export interface RelayOptions {
  /** Network name (default: one of its own per relay, so tests never join each other). */
  network?: string
  /** Overlay addresses of relays to join. */
  bootstrap?: string[]
  /** Addresses other relays should dial (a proxy in front of this one). */
  announce?: string[]
  /** More `herald relay` flags. */
  args?: string[]
  /** A name for messages (default relay-<n>). */
  name?: string
  /** The herald CLI to run (default: the one of @herald/cli; or $HERALD_CLI). */
  cli?: string
  env?: NodeJS.ProcessEnv
  readyTimeoutMs?: number
  /** Each stderr line of the relay as it comes, with the relay's name (they are also kept: stderr()). */
  onStderr?: (line: string, relay: string) => void
  /** Called with the pid as soon as the process exists, before it is ready. */
  onSpawn?: (pid: number) => void
}

export interface Ready {
  peerId: string
  port: number
  addrs: string[]
}

export type RelayState = 'running' | 'frozen' | 'exited'

let relays = 0
const guardJs = fileURLToPath(new URL('./guard.js', import.meta.url))

/** The herald command: $HERALD_CLI, else @herald/cli's launcher. */
export function defaultCli(): string {
  const env = process.env['HERALD_CLI']
  if (env !== undefined && env !== '') return env
  return fileURLToPath(new URL('../bin/herald.js', import.meta.resolve('@herald/cli')))
}

export class TestRelay {
  readonly name: string
  readonly network: string
  readonly pid: number
  /** The client port (127.0.0.1). */
  readonly port: number
  readonly peerId: string
  /** Overlay addresses from the ready line (the announced ones, when announcing). */
  readonly addrs: readonly string[]
  /** Resolves with the exit code, or the signal's name. */
  readonly exited: Promise<number | string>
  private readonly child: ChildProcess
  private readonly tail: { text: string }
  private frozen = false
  private admin: Promise<Connection> | undefined

  /** Use startRelay(). */
  constructor(init: { name: string; network: string; child: ChildProcess; ready: Ready; exited: Promise<number | string>; tail: { text: string } }) {
    this.name = init.name
    this.network = init.network
    this.child = init.child
    this.pid = init.child.pid ?? -1
    this.port = init.ready.port
    this.peerId = init.ready.peerId
    this.addrs = init.ready.addrs
    this.exited = init.exited
    this.tail = init.tail
  }

  get state(): RelayState {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return 'exited'
    return this.frozen ? 'frozen' : 'running'
  }

  /** The last 64 KiB the relay wrote to stderr. */
  stderr(): string {
    return this.tail.text
  }

  /** A client connection; with `pressure`, through a proxy in front of the client port. */
  async connect(options: Omit<ConnectOptions, 'port' | 'host' | 'socket' | 'socketPath'> & { pressure?: PressureSpec } = {}): Promise<Connection> {
    const { pressure, ...rest } = options
    const port = pressure === undefined ? this.port : (await this.clientProxy(pressure)).port
    const conn = await connect({ ...rest, port })
    trackClosable(conn)
    return conn
  }

  /** A member of a cluster; with `pressure`, its connection goes through a proxy. */
  async register(options: Omit<RegisterOptions, 'port' | 'host' | 'socket' | 'socketPath'> & { pressure?: PressureSpec }): Promise<Service> {
    const { pressure, ...rest } = options
    const port = pressure === undefined ? this.port : (await this.clientProxy(pressure)).port
    const svc = await register({ ...rest, port })
    trackClosable(svc)
    return svc
  }

  /**
   * A pressure proxy in front of the client port, for your own clients (`connect({ port:
   * proxy.port })`); change it live (`configure`, `partition`, `stall`...). Closed by cleanup().
   */
  async clientProxy(pressure?: PressureSpec): Promise<PressureProxy> {
    const proxy = await createPressureProxy({ target: { host: '127.0.0.1', port: this.port }, ...proxyInitOf(pressure) })
    trackClosable(proxy)
    return proxy
  }

  /** The relay's `$herald.status` (what `herald status --json` prints). */
  async status(options: { timeoutMs?: number } = {}): Promise<RelayStatus> {
    this.admin ??= connect({ port: this.port }).then((c) => { trackClosable(c); return c })
    let conn: Connection
    try {
      conn = await this.admin
    } catch (err) {
      this.admin = undefined
      throw err
    }
    try {
      const reply = await conn.request('$herald.status', '', { timeoutMs: options.timeoutMs ?? DEFAULT_STATUS_TIMEOUT_MS })
      return JSON.parse(Buffer.from(reply.buffer, reply.byteOffset, reply.byteLength).toString('utf8')) as RelayStatus
    } catch (err) {
      // A timeout (a frozen relay) keeps the connection; anything else makes a new one next time.
      if (!(err instanceof TimeoutError)) {
        this.admin = undefined
        conn.close().catch(() => {})
      }
      throw err
    }
  }

  /** SIGKILL: the relay vanishes without a word to anyone. Resolves once it has exited. */
  async kill9(): Promise<void> {
    this.signal('SIGKILL')
    await this.exited
  }

  /** SIGSTOP: the process stops, its sockets stay open and nothing answers. */
  freeze(): void {
    this.signal('SIGSTOP')
    this.frozen = true
  }

  /** SIGCONT: it carries on where it stopped. */
  thaw(): void {
    this.signal('SIGCONT')
    this.frozen = false
  }

  /** SIGTERM (thawed first): a graceful stop; SIGKILL if it takes longer than `timeoutMs`. */
  async stop(options: { timeoutMs?: number } = {}): Promise<number | string> {
    if (this.state === 'exited') return this.exited
    if (this.frozen) this.thaw()
    this.signal('SIGTERM')
    const timer = setTimeout(() => this.signal('SIGKILL'), options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)
    const code = await this.exited
    clearTimeout(timer)
    return code
  }

  private signal(sig: NodeJS.Signals): void {
    if (this.state === 'exited') return
    try {
      this.child.kill(sig)
    } catch {
      // It exited meanwhile.
    }
  }
}

/** Starts a relay on a free client port and resolves once it is ready to serve. */
export async function startRelay(options: RelayOptions = {}): Promise<TestRelay> {
  const n = ++relays
  const name = options.name ?? `relay-${n}`
  const network = options.network ?? `testkit-${process.pid}-${n}`
  const args = [
    'relay', '--dev', '--network', network, '--port', '0', '--json',
    ...(options.bootstrap ?? []).flatMap((b) => ['--bootstrap', b]),
    ...(options.announce ?? []).flatMap((a) => ['--announce', a]),
    ...(options.args ?? []),
  ]
  // The flags the herald launcher's shebang gives every relay (a 4 MiB young generation, a
  // 64 MiB initial old generation: packages/cli/bin/herald.js says why).
  const child = spawn(process.execPath, ['--max-semi-space-size=4', '--initial-old-space-size=64', guardJs, options.cli ?? defaultCli(), ...args], {
    env: options.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  track(child)
  if (child.pid !== undefined) options.onSpawn?.(child.pid)
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, sig) => resolve(code ?? sig ?? -1)))
  const tail = { text: '' }
  let partial = ''
  child.stderr!.setEncoding('utf8').on('data', (c: string) => {
    tail.text = (tail.text + c).slice(-STDERR_TAIL_BYTES)
    if (options.onStderr === undefined) return
    partial += c
    for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
      options.onStderr(partial.slice(0, i), name)
      partial = partial.slice(i + 1)
    }
  })
  child.stdin!.on('error', () => {})
  try {
    const ready = await readyLine(child, exited, options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, tail)
    return new TestRelay({ name, network, child, ready, exited, tail })
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  }
}

function readyLine(child: ChildProcess, exited: Promise<number | string>, timeoutMs: number, tail: { text: string }): Promise<Ready> {
  return new Promise<Ready>((resolve, reject) => {
    let buffered = ''
    let done = false
    const fail = (why: string): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      reject(new Error(`herald relay ${why}; its stderr ends with:\n${tail.text.slice(-2000)}`))
    }
    const timer = setTimeout(() => fail(`printed no ready line within ${timeoutMs} ms`), timeoutMs)
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      // After the ready line the relay's stdout is read and ignored (a full pipe would block it).
      if (done) return
      buffered += c
      for (const line of buffered.split('\n').slice(0, -1)) {
        let x: unknown
        try { x = JSON.parse(line) } catch { continue }
        const r = x as Partial<Ready> & { event?: string }
        if (r.event === 'ready' && typeof r.port === 'number' && typeof r.peerId === 'string' && Array.isArray(r.addrs)) {
          done = true
          clearTimeout(timer)
          resolve({ peerId: r.peerId, port: r.port, addrs: r.addrs })
          return
        }
      }
      buffered = buffered.slice(buffered.lastIndexOf('\n') + 1)
    })
    void exited.then((code) => fail(`exited (${String(code)}) before it was ready`))
  })
}
