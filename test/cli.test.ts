/**
 * The `herald` CLI end to end: every pattern through real relay and CLI processes, the
 * exit-code contract (0 ok, 1 failure with one line on stderr, 2 usage error with one line),
 * --help, the relay's --json ready line, graceful signals and the Unix socket.
 */
import { afterAll, beforeAll, describe, it } from 'vitest'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect, register } from '@herald/client'
import { killAll, runCli, spawnCli, startRelay, type Proc, type RelayProc } from './harness.js'

const tmp = mkdtempSync(join(tmpdir(), 'herald-cli-'))
afterAll(async () => {
  await killAll()
  rmSync(tmp, { recursive: true, force: true })
})

/** The lines of a process's stderr (no trailing empty line). */
function stderrLines(s: string): string[] {
  return s.split('\n').filter((l, i, a) => !(l === '' && i === a.length - 1))
}

/** Starts `herald serve CLUSTER ...` and waits until it is registered. */
async function serve(relay: RelayProc, cluster: string, ...args: string[]): Promise<Proc> {
  const p = spawnCli(['serve', cluster, ...args, '--port', String(relay.port)])
  await p.waitFor(new RegExp(`serving "${cluster}"`))
  return p
}

/** Stops a long-running CLI process (serve/subscribe) the way a user would, and waits for it. */
async function stop(p: Proc): Promise<void> {
  p.kill('SIGTERM')
  await p.exited
}

describe.concurrent('herald CLI patterns', () => {
  let relay: RelayProc
  let port: string
  beforeAll(async () => {
    relay = await startRelay()
    port = String(relay.port)
  })

  it('request/reply: serve --echo answers herald request with the exact bytes (argument and stdin)', async ({ expect }) => {
    const member = await serve(relay, 'databases', '--echo')

    const r = await runCli(['request', 'databases', 'hello', '--port', port])
    expect(r).toEqual({ code: 0, stdout: 'hello', stderr: '' })

    // PAYLOAD omitted: the request is stdin, bytes for bytes (newlines and all).
    const input = 'line one\nline two\n\u00e9\u4e16\n'
    const s = await runCli(['request', 'databases', '--port', port], { input })
    expect(s).toEqual({ code: 0, stdout: input, stderr: '' })

    // An empty payload is allowed and the reply is empty.
    const e = await runCli(['request', 'databases', '--port', port], { input: '' })
    expect(e).toEqual({ code: 0, stdout: '', stderr: '' })

    await stop(member)
  })

  it('request/reply: serve --exec CMD replies with the command\'s stdout', async ({ expect }) => {
    const member = await serve(relay, 'upper', '--exec', 'tr a-z A-Z')
    const r = await runCli(['request', 'upper', 'hello world', '--port', port])
    expect(r).toEqual({ code: 0, stdout: 'HELLO WORLD', stderr: '' })
    const s = await runCli(['request', 'upper', '--port', port], { input: 'from\nstdin\n' })
    expect(s).toEqual({ code: 0, stdout: 'FROM\nSTDIN\n', stderr: '' })
    await stop(member)
  })

  it('request/reply: a failing --exec command makes herald request exit 1 with the remote error on one line', async ({ expect }) => {
    const member = await serve(relay, 'failing', '--exec', "sh -c 'echo bad >&2; exit 3'")
    const r = await runCli(['request', 'failing', 'x', '--port', port])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const lines = stderrLines(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^herald: /)
    expect(lines[0]).toContain('bad')
    expect(lines[0]).toContain('3')
    // The member survives a failing command and keeps serving.
    const again = await runCli(['request', 'failing', 'y', '--port', port])
    expect(again.code).toBe(1)
    expect(member.child.exitCode).toBeNull()
    await stop(member)
  })

  it('request/reply: a multi-line remote error still gives a one-line message', async ({ expect }) => {
    const svc = await register({
      port: relay.port, cluster: 'multiline',
      handler: { handleRequest() { throw new Error('first line\nsecond line') } },
    })
    const r = await runCli(['request', 'multiline', 'x', '--port', port])
    expect(r.code).toBe(1)
    const lines = stderrLines(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain('first line')
    expect(lines[0]).toContain('second line')
    await svc.close()
  })

  it('request to a cluster without members exits 1 with a one-line message', async ({ expect }) => {
    const r = await runCli(['request', 'nobody', 'x', '--port', port])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe('')
    const lines = stderrLines(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^herald: .*nobody/)
  })

  it('request to a port where no relay listens exits 1 with a one-line message', async ({ expect }) => {
    // A port that was just in use by a relay that is gone: nothing listens there.
    const gone = await startRelay()
    gone.kill('SIGTERM')
    expect(await gone.exited).toBe(0)
    const r = await runCli(['request', 'databases', 'x', '--port', String(gone.port)])
    expect(r.code).toBe(1)
    expect(stderrLines(r.stderr)).toHaveLength(1)
  })

  it('publish/subscribe: subscribe --count 2 prints one line per event, in order, then exits 0', async ({ expect }) => {
    const sub = spawnCli(['subscribe', 'news', '--count', '2', '--port', port])
    await sub.waitFor(/subscribed to "news"/)
    expect(await runCli(['publish', 'news', 'first event', '--port', port])).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(await runCli(['publish', 'news', 'second event', '--port', port])).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(await sub.closed).toBe(0)
    expect(sub.stdout()).toBe('first event\nsecond event\n')
  })

  it('publish to a topic nobody subscribes to succeeds (best effort)', async ({ expect }) => {
    expect(await runCli(['publish', 'void', 'x', '--port', port])).toEqual({ code: 0, stdout: '', stderr: '' })
  })

  it('broadcast reaches every serve member, each printing one line per broadcast', async ({ expect }) => {
    const a = await serve(relay, 'everyone', '--echo')
    const b = await serve(relay, 'everyone', '--exec', 'cat')
    expect(await runCli(['broadcast', 'everyone', 'hello all', '--port', port])).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(await runCli(['broadcast', 'everyone', 'second', '--port', port])).toEqual({ code: 0, stdout: '', stderr: '' })
    await a.waitFor(/^second$/m)
    await b.waitFor(/^second$/m)
    expect(a.stdout()).toBe('hello all\nsecond\n')
    expect(b.stdout()).toBe('hello all\nsecond\n')
    await Promise.all([stop(a), stop(b)])
  })

  it('status and status --json show the clusters with their member counts and the topics', async ({ expect }) => {
    // A relay of its own, so the counts are exact.
    const r2 = await startRelay()
    const p2 = String(r2.port)
    await serve(r2, 'databases', '--echo')
    await serve(r2, 'databases', '--echo')
    const sub = spawnCli(['subscribe', 'orders.created', '--port', p2])
    await sub.waitFor(/subscribed to "orders.created"/)

    const text = await runCli(['status', '--port', p2])
    expect(text.code).toBe(0)
    expect(text.stdout).toContain(r2.peerId)
    expect(text.stdout).toMatch(/databases: 2 (local )?member\(s\)/)
    expect(text.stdout).toMatch(/orders\.created: 1 subscriber\(s\)/)

    const json = await runCli(['status', '--json', '--port', p2])
    expect(json.code).toBe(0)
    expect(json.stdout.trimEnd().split('\n')).toHaveLength(1)
    const s = JSON.parse(json.stdout) as {
      nodeId: string; port: number; clients: number; protocolErrors: number
      clusters: Array<{ name: string; members: number }>; topics: Array<{ name: string; subscribers: number }>
      counters: Record<string, number>
    }
    expect(s.nodeId).toBe(r2.peerId)
    expect(s.port).toBe(r2.port)
    expect(s.clusters).toEqual([expect.objectContaining({ name: 'databases', members: 2 })])
    expect(s.topics).toEqual([expect.objectContaining({ name: 'orders.created', subscribers: 1 })])
    expect(s.clients).toBeGreaterThanOrEqual(3)
    expect(s.protocolErrors).toBe(0)
    expect(typeof s.counters).toBe('object')
  })
})

describe.concurrent('herald CLI help and usage errors', () => {
  const options: Record<string, string[]> = {
    relay: [
      '--key-file', '--dev', '--network', '--port', '--listen', '--bootstrap', '--no-mdns', '--data-dir', '--socket',
      '--json', '--max-message', '--stall-timeout',
    ],
    keygen: ['--out'],
    request: ['--timeout', '--port'],
    broadcast: ['--port'],
    publish: ['--port'],
    subscribe: ['--count', '--port'],
    serve: ['--echo', '--exec', '--concurrency', '--port'],
    status: ['--json', '--port'],
  }

  it('every command\'s --help exits 0 and mentions its options', async ({ expect }) => {
    const results = await Promise.all(Object.keys(options).map(async (cmd) => [cmd, await runCli([cmd, '--help'])] as const))
    for (const [cmd, r] of results) {
      expect(r.code, cmd).toBe(0)
      expect(r.stderr, cmd).toBe('')
      expect(r.stdout, cmd).toContain(`herald ${cmd}`)
      for (const opt of options[cmd]!) expect(r.stdout, `${cmd} ${opt}`).toContain(opt)
    }
  })

  it('herald --help lists every command and exits 0; -h too', async ({ expect }) => {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([flag])
      expect(r.code).toBe(0)
      for (const cmd of Object.keys(options)) expect(r.stdout).toContain(`herald ${cmd}`)
    }
  })

  it('herald without a command is a usage error (exit 2)', async ({ expect }) => {
    const r = await runCli([])
    expect(r.code).toBe(2)
    expect(r.stdout + r.stderr).toMatch(/Usage/)
  })

  const usageErrors: Array<[string, string[]]> = [
    ['unknown command', ['frobnicate']],
    ['missing CLUSTER', ['request']],
    ['missing PAYLOAD of publish', ['publish', 'news']],
    ['missing PAYLOAD of broadcast', ['broadcast', 'databases']],
    ['missing TOPIC', ['subscribe']],
    ['too many arguments', ['request', 'a', 'b', 'c']],
    ['unknown flag', ['request', 'databases', 'x', '--bogus']],
    ['unknown flag of relay', ['relay', '--dev', '--frob']],
    ['relay without --dev or --key-file', ['relay', '--port', '0']],
    ['relay with a missing key file', ['relay', '--key-file', '/nonexistent/herald.key', '--port', '0']],
    ['keygen with an argument', ['keygen', 'extra']],
    ['serve without --echo/--exec', ['serve', 'x']],
    ['serve with both --echo and --exec', ['serve', 'x', '--echo', '--exec', 'cat']],
    ['--exec without its value', ['serve', 'x', '--exec']],
    ['non-numeric --port', ['request', 'databases', 'x', '--port', 'abc']],
    ['--port 0 on a client command', ['publish', 'news', 'x', '--port', '0']],
    ['--port above 65535', ['status', '--port', '70000']],
    ['--port above 65535 on relay', ['relay', '--dev', '--port', '99999']],
    ['fractional --port', ['relay', '--dev', '--port', '1.5']],
    ['bad --port with the payload on stdin', ['request', 'databases', '--port', 'abc']],
    ['bad --timeout', ['request', 'databases', 'x', '--timeout', 'soon']],
    ['bad --count', ['subscribe', 'news', '--count', '-3']],
    ['bad --stall-timeout', ['relay', '--dev', '--port', '0', '--stall-timeout', 'x']],
  ]

  it.for(usageErrors)('usage error: %s -> exit 2 with exactly one line on stderr', async ([_what, args], { expect }) => {
    // stdin stays open (no input): a usage error must not wait for it, nor for a relay.
    const r = await runCli(args, { timeoutMs: 10_000 })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    const lines = stderrLines(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(/^herald: \S/)
  })
})

describe.concurrent('herald relay process', () => {
  it('--json prints exactly one ready line of the documented shape on stdout', async ({ expect }) => {
    const relay = await startRelay()
    const lines = relay.stdout().split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(1)
    const ready = JSON.parse(lines[0]!) as Record<string, unknown>
    expect(Object.keys(ready).sort()).toEqual(['addrs', 'event', 'peerId', 'port'])
    expect(ready['event']).toBe('ready')
    expect(typeof ready['peerId']).toBe('string')
    expect((ready['peerId'] as string).length).toBeGreaterThan(0)
    expect(Number.isInteger(ready['port'])).toBe(true)
    expect(ready['port']).toBeGreaterThan(0)
    expect(Array.isArray(ready['addrs'])).toBe(true)
    // Dialable overlay addresses: /ip4/…/tcp/…/p2p/<peer id>, usable as --bootstrap.
    for (const a of ready['addrs'] as unknown[]) {
      expect(typeof a).toBe('string')
      expect(a).toMatch(/^\/ip[46]\/[^/]+\/tcp\/\d+\/p2p\/\S+$/)
      expect((a as string).endsWith(`/p2p/${ready['peerId'] as string}`)).toBe(true)
    }
    // The port read back is the one clients reach.
    const r = await runCli(['status', '--json', '--port', String(ready['port'])])
    expect(r.code).toBe(0)
    expect((JSON.parse(r.stdout) as { nodeId: string }).nodeId).toBe(ready['peerId'])
  })

  it.for(['SIGTERM', 'SIGINT'] as const)('%s makes a relay with connected clients exit 0', async (signal, { expect }) => {
    const relay = await startRelay()
    const member = await serve(relay, 'databases', '--echo')
    const sub = spawnCli(['subscribe', 'news', '--port', String(relay.port)])
    await sub.waitFor(/subscribed to "news"/)
    relay.kill(signal)
    expect(await relay.closed).toBe(0)
    expect(relay.stderr()).toContain(signal)
    // Its clients notice and end on their own (no process is left behind).
    await member.exited
    await sub.exited
  })

  it('keygen prints or writes (mode 0600, never overwriting) a key that a relay accepts with --key-file', async ({ expect }) => {
    const printed = await runCli(['keygen'])
    expect(printed.code).toBe(0)
    expect(printed.stdout.trim().length).toBeGreaterThan(0)
    expect((await runCli(['keygen'])).stdout).not.toBe(printed.stdout) // a new key each time
    const file = join(tmp, 'network.key')
    const k = await runCli(['keygen', '--out', file])
    expect(k.code).toBe(0)
    expect(statSync(file).mode & 0o777).toBe(0o600)
    const again = await runCli(['keygen', '--out', file])
    expect(again.code).toBe(1)
    expect(stderrLines(again.stderr)).toHaveLength(1)
    const relay = spawnCli(['relay', '--key-file', file, '--port', '0', '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns', '--json'])
    const m = await relay.waitFor(/^(\{"event":"ready".*\})$/m)
    const port = (JSON.parse(m[1]!) as { port: number }).port
    expect((await runCli(['status', '--json', '--port', String(port)])).code).toBe(0)
    relay.kill('SIGTERM')
    expect(await relay.exited).toBe(0)
  })

  it('--socket PATH creates a mode 0600 Unix socket that SDK clients reach with socketPath', async ({ expect }) => {
    const path = join(tmp, 'relay.sock')
    const relay = await startRelay(['--socket', path])
    const st = statSync(path)
    expect(st.isSocket()).toBe(true)
    expect(st.mode & 0o777).toBe(0o600)

    // A member on TCP, a client on the socket: one relay, both doors.
    await serve(relay, 'databases', '--echo')
    const conn = await connect({ socketPath: path })
    const reply = await conn.request('databases', 'via unix socket', { timeoutMs: 5000 })
    expect(Buffer.from(reply).toString()).toBe('via unix socket')
    // And a member on the socket answers a CLI request made over TCP.
    const svc = await register({ socketPath: path, cluster: 'sockmember', handler: { handleRequest: (r) => Buffer.concat([Buffer.from('S:'), r]) } })
    expect(await runCli(['request', 'sockmember', 'x', '--port', String(relay.port)])).toEqual({ code: 0, stdout: 'S:x', stderr: '' })
    await svc.close()
    await conn.close()
    relay.kill('SIGTERM')
    expect(await relay.exited).toBe(0)
  })
})
