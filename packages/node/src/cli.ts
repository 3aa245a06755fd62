#!/usr/bin/env node
import './polyfill.js'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { spawn } from 'node:child_process'
import { connect, register, HeraldError, type Connection } from '@herald/client'
import { KeyFileError, devNetworkKey, newNetworkKeyText, readNetworkKeyFile, writeNetworkKeyFile } from './network-key.js'
import { DEFAULT_CLIENT_PORT, DEFAULT_NETWORK, DEFAULT_STALL_TIMEOUT_MS, SYSTEM_PREFIX } from './constants.js'

const VERSION = '0.1.0'

class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>
const portOption: Options = { port: { type: 'string', short: 'p' } }
const helpOption: Options = { help: { type: 'boolean', short: 'h' } }

interface Command {
  usage: string
  help: string
  options: Options
  positionals: [min: number, max: number]
  run(values: Record<string, string | boolean | undefined>, args: string[]): Promise<number>
}

function intOption(v: unknown, name: string, fallback: number, min = 0): number {
  if (v === undefined) return fallback
  const n = Number(v)
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min}, got "${String(v)}"`)
  return n
}

function clientPort(values: Record<string, unknown>): number {
  const p = intOption(values['port'], 'port', DEFAULT_CLIENT_PORT, 1)
  if (p > 65535) throw new UsageError('--port must be at most 65535')
  return p
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

async function withConnection<T>(values: Record<string, unknown>, fn: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await connect({ port: clientPort(values) })
  try {
    return await fn(conn)
  } finally {
    await conn.close()
  }
}

function writeOut(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())))
}

const commands: Record<string, Command> = {
  relay: {
    usage: 'herald relay (--key-file F | --dev) [--network NAME] [--port 55555] [--listen MULTIADDR...] [--bootstrap MULTIADDR...] [--no-mdns] [--data-dir DIR] [--cloak] [--socket PATH] [--json]',
    help: `Runs a relay node in the foreground until SIGINT/SIGTERM (then stops gracefully, exit 0).
Local clients connect to 127.0.0.1:PORT (loopback only) and, with --socket, to a Unix socket.
Relays of one network find each other (mDNS, --bootstrap, a private DHT) and form one overlay.

  --key-file F       the network key (make one with \`herald keygen\`); relays without it
                     cannot complete a connection with this one
  --dev              development mode: the key is derived from the network name (INSECURE),
                     the overlay listens on loopback and mDNS is off unless --mdns
  --network NAME     network name (default "${DEFAULT_NETWORK}"); other names never merge
  --port N           client port (default ${DEFAULT_CLIENT_PORT}; 0 picks a free port)
  --listen MA        overlay listen address, repeatable (default /ip4/0.0.0.0/tcp/0,
                     with --dev /ip4/127.0.0.1/tcp/0)
  --bootstrap MA     overlay address of a relay to join (with /p2p/<peer id>), repeatable
  --no-mdns          do not discover relays on the LAN by mDNS (on by default without --dev)
  --mdns             discover by mDNS even with --dev
  --data-dir DIR     keep the relay's peer identity in DIR (file mode 0600) across restarts
  --cloak            also wrap overlay connections in a pre-shared-key cipher (@libp2p/pnet),
                     hiding even the libp2p handshake; about half the throughput
  --socket PATH      also serve clients on a Unix socket, created with mode 0600
  --max-message N    largest message in bytes (default 16 MiB)
  --stall-timeout MS close a client whose partial frame stalls this long (default ${DEFAULT_STALL_TIMEOUT_MS})
  --json             print one JSON line on stdout when ready:
                     {"event":"ready","peerId":"…","port":N,"addrs":["/ip4/…/tcp/…/p2p/…"]}`,
    options: {
      dev: { type: 'boolean' }, 'key-file': { type: 'string' }, network: { type: 'string' }, port: { type: 'string', short: 'p' },
      listen: { type: 'string', multiple: true }, bootstrap: { type: 'string', multiple: true },
      'no-mdns': { type: 'boolean' }, mdns: { type: 'boolean' }, 'data-dir': { type: 'string' }, cloak: { type: 'boolean' },
      socket: { type: 'string' }, json: { type: 'boolean' }, 'max-message': { type: 'string' },
      'stall-timeout': { type: 'string' },
    },
    positionals: [0, 0],
    async run(values) {
      const port = intOption(values['port'], 'port', DEFAULT_CLIENT_PORT, 0)
      if (port > 65535) throw new UsageError('--port must be at most 65535')
      const dev = values['dev'] === true
      const keyFile = values['key-file'] as string | undefined
      if (dev === (keyFile !== undefined)) {
        throw new UsageError(dev ? 'give --key-file or --dev, not both' : 'a relay needs the network key: --key-file F (see `herald keygen`), or --dev for an insecure development relay')
      }
      const network = (values['network'] as string | undefined) ?? DEFAULT_NETWORK
      let networkKey: Uint8Array
      if (keyFile !== undefined) {
        try {
          networkKey = readNetworkKeyFile(keyFile)
        } catch (err) {
          if (err instanceof KeyFileError) throw new UsageError(err.message)
          throw err
        }
      } else {
        networkKey = devNetworkKey(network)
      }
      const list = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : [])
      const bootstrap = list(values['bootstrap'])
      for (const b of bootstrap) if (!/\/p2p\/[A-Za-z0-9]+$/.test(b)) throw new UsageError(`--bootstrap ${b}: the address must end with /p2p/<peer id>`)
      const listen = list(values['listen'])
      // Every option is checked before anything is printed: a usage error is one line on stderr.
      const maxMessageBytes = intOption(values['max-message'], 'max-message', 16 * 1024 * 1024, 1)
      const stallTimeoutMs = intOption(values['stall-timeout'], 'stall-timeout', DEFAULT_STALL_TIMEOUT_MS, 1)
      if (dev) process.stderr.write('herald: WARNING: --dev derives the network key from the network name: anyone can join this network. Use --key-file in production.\n')
      // Loaded here, not at the top: client commands start in ~0.1 s instead of ~0.5 s without libp2p.
      const { startRelay } = await import('./relay.js')
      const relay = await startRelay({
        port,
        network,
        networkKey,
        listen: listen.length > 0 ? listen : [dev ? '/ip4/127.0.0.1/tcp/0' : '/ip4/0.0.0.0/tcp/0'],
        bootstrap,
        mdns: values['no-mdns'] === true ? false : values['mdns'] === true ? true : !dev,
        ...(values['data-dir'] !== undefined ? { dataDir: String(values['data-dir']) } : {}),
        cloak: values['cloak'] === true,
        ...(values['socket'] !== undefined ? { socketPath: String(values['socket']) } : {}),
        maxMessageBytes,
        stallTimeoutMs,
      })
      // Signal handlers go in before the ready line: a SIGTERM right after it must stop gracefully.
      const stopped = new Promise<void>((resolve) => {
        const stop = (sig: string): void => {
          process.stderr.write(`herald: ${sig}: stopping\n`)
          relay.stop().then(resolve, resolve)
        }
        process.once('SIGINT', () => stop('SIGINT'))
        process.once('SIGTERM', () => stop('SIGTERM'))
      })
      if (values['json'] === true) {
        await writeOut(JSON.stringify({ event: 'ready', peerId: relay.nodeId, port: relay.port, addrs: relay.addrs() }) + '\n')
      } else {
        process.stderr.write(`herald: relay ${relay.nodeId} (network "${relay.network}") serving clients on 127.0.0.1:${relay.port}` +
          `${values['socket'] !== undefined ? ` and ${String(values['socket'])}` : ''}\n` +
          `herald: overlay addresses: ${relay.addrs().join(' ')}\nherald: Ctrl-C stops it\n`)
      }
      await stopped
      return 0
    },
  },
  keygen: {
    usage: 'herald keygen [--out F]',
    help: `Makes a new network key: 32 random bytes, as a small text file (a header line, then the key
in base64). Every relay of a network needs the same key file; keep it secret.
With --out the key is written to F with mode 0600 (an existing file is never overwritten);
otherwise it is printed on stdout.`,
    options: { out: { type: 'string', short: 'o' } },
    positionals: [0, 0],
    async run(values) {
      const out = values['out'] as string | undefined
      if (out === undefined) {
        await writeOut(newNetworkKeyText())
        return 0
      }
      try {
        writeNetworkKeyFile(out)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new Error(code === 'EEXIST' ? `${out} exists; not overwriting it` : `cannot write ${out}: ${code ?? String(err)}`)
      }
      process.stderr.write(`herald: wrote a new network key to ${out} (mode 0600)\n`)
      return 0
    },
  },
  request: {
    usage: 'herald request CLUSTER [PAYLOAD] [--timeout MS] [--port N]',
    help: `Sends one request to a member of CLUSTER and writes the reply's bytes to stdout.
The payload is PAYLOAD, or stdin when PAYLOAD is omitted.

  --timeout MS   give up after MS milliseconds (default 10000)
  --port N       the relay's client port (default ${DEFAULT_CLIENT_PORT})`,
    options: { ...portOption, timeout: { type: 'string', short: 't' } },
    positionals: [1, 2],
    async run(values, [cluster, payload]) {
      const timeoutMs = intOption(values['timeout'], 'timeout', 10_000, 1)
      clientPort(values) // a bad --port is a usage error before stdin is read, not after
      const body = payload ?? (await readStdin())
      const reply = await withConnection(values, (c) => c.request(cluster!, body, { timeoutMs }))
      await writeOut(reply)
      return 0
    },
  },
  broadcast: {
    usage: 'herald broadcast CLUSTER PAYLOAD [--port N]',
    help: 'Sends PAYLOAD to every member of CLUSTER (best effort, no reply).',
    options: { ...portOption },
    positionals: [2, 2],
    async run(values, [cluster, payload]) {
      await withConnection(values, (c) => c.broadcast(cluster!, payload!))
      return 0
    },
  },
  publish: {
    usage: 'herald publish TOPIC PAYLOAD [--port N]',
    help: 'Publishes PAYLOAD as one event on TOPIC (best effort, at most once).',
    options: { ...portOption },
    positionals: [2, 2],
    async run(values, [topic, payload]) {
      await withConnection(values, (c) => c.publish(topic!, payload!))
      return 0
    },
  },
  subscribe: {
    usage: 'herald subscribe TOPIC [--count N] [--port N]',
    help: `Prints one line per event of TOPIC (the payload as UTF-8) until Ctrl-C, or until
--count events arrived. Says "subscribed" on stderr once the subscription is in place.`,
    options: { ...portOption, count: { type: 'string', short: 'n' } },
    positionals: [1, 1],
    async run(values, [topic]) {
      const count = intOption(values['count'], 'count', 0, 1)
      const conn = await connect({ port: clientPort(values) })
      const sub = await conn.subscribe(topic!)
      process.stderr.write(`herald: subscribed to "${topic!}"\n`)
      process.once('SIGINT', () => { void conn.close() })
      let n = 0
      for await (const ev of sub) {
        await writeOut(Buffer.concat([ev, Buffer.from('\n')]))
        if (count > 0 && ++n >= count) break
      }
      await conn.close()
      return 0
    },
  },
  serve: {
    usage: 'herald serve CLUSTER (--echo | --exec CMD) [--concurrency N] [--port N]',
    help: `Joins CLUSTER as a member and answers requests until Ctrl-C.

  --echo           answer each request with its own bytes
  --exec CMD       run CMD (through sh -c) with the request on stdin; its stdout is the reply,
                   a non-zero exit becomes a remote error carrying the last line of its stderr
  --concurrency N  requests handled at once (default 16)
Broadcasts are printed on stdout, one line each. Says "serving" on stderr once registered.`,
    options: { ...portOption, echo: { type: 'boolean' }, exec: { type: 'string' }, concurrency: { type: 'string' } },
    positionals: [1, 1],
    async run(values, [cluster]) {
      const exec = values['exec'] as string | undefined
      if ((values['echo'] === true) === (exec !== undefined)) throw new UsageError('give exactly one of --echo or --exec CMD')
      const concurrency = intOption(values['concurrency'], 'concurrency', 16, 1)
      const svc = await register({
        port: clientPort(values),
        cluster: cluster!,
        limits: { requestConcurrency: concurrency },
        handler: {
          handleRequest: (req) => (exec === undefined ? req : runExec(exec, req)),
          handleBroadcast: (msg) => { process.stdout.write(Buffer.concat([msg, Buffer.from('\n')])) },
          handleDrop: (reason) => {
            process.stderr.write(`herald: lost the relay: ${reason.message}\n`)
            process.exit(1)
          },
        },
      })
      process.stderr.write(`herald: serving "${cluster!}"\n`)
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve)
        process.once('SIGTERM', resolve)
      })
      await svc.close()
      return 0
    },
  },
  status: {
    usage: 'herald status [--json] [--port N]',
    help: 'Shows the relay: clients, peers (the directory: other relays with their clusters and topics), local clusters and topics, counters.',
    options: { ...portOption, json: { type: 'boolean' } },
    positionals: [0, 0],
    async run(values) {
      const reply = await withConnection(values, (c) => c.request(`${SYSTEM_PREFIX}status`, '', { timeoutMs: 5000 }))
      const s = JSON.parse(Buffer.from(reply).toString('utf8')) as import('./relay.js').RelayStatus
      if (values['json'] === true) {
        await writeOut(JSON.stringify(s) + '\n')
        return 0
      }
      const lines = [
        `relay     ${s.nodeId}  network "${s.network}"  port ${s.port}  up ${(s.uptimeMs / 1000).toFixed(0)} s  rss ${(s.rssBytes / 1048576).toFixed(1)} MiB`,
        `clients   ${s.clients} connected (${s.acceptedConnections} accepted, ${s.protocolErrors} closed for errors)`,
        `addrs     ${s.addrs.join(' ')}`,
        `peers     ${s.peers.length === 0 ? '(none)' : ''}`,
        ...s.peers.map((p) => `  ${p.nodeId}${p.connected ? '' : ' (not linked)'}: clusters ${Object.entries(p.clusters).map(([n, c]) => `${n}(${c.members})`).join(' ') || '-'}; topics ${p.topics.join(' ') || '-'}`),
        `clusters  ${s.clusters.length === 0 ? '(none)' : ''}`,
        ...s.clusters.map((c) => `  ${c.name}: ${c.members} local member(s), ${c.outstanding} in flight, ${c.queued} queued`),
        `topics    ${s.topics.length === 0 ? '(none)' : ''}`,
        ...s.topics.map((t) => `  ${t.name}: ${t.subscribers} subscriber(s), ${t.dropped} dropped`),
        'counters',
        ...Object.entries(s.counters).map(([k, v]) => `  ${k.padEnd(16)} ${v}`),
      ]
      await writeOut(lines.join('\n') + '\n')
      return 0
    },
  },
}

function runExec(cmd: string, input: Uint8Array): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', cmd], { stdio: ['pipe', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    const err: Buffer[] = []
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.on('error', reject)
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out))
      else {
        const text = Buffer.concat(err).toString('utf8').trim().split('\n').pop() ?? ''
        reject(new Error(`command exited with code ${String(code)}${text ? `: ${text}` : ''}`))
      }
    })
    child.stdin.on('error', () => {})
    child.stdin.end(input)
  })
}

function mainHelp(): string {
  return `herald ${VERSION}: service-addressed messaging (request/reply, broadcast, pub/sub, tunnels)

Usage:
${Object.values(commands).map((c) => `  ${c.usage}`).join('\n')}

Run "herald COMMAND --help" for a command's options. Exit codes: 0 ok, 1 failure, 2 usage error.`
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(mainHelp() + '\n')
    return name === undefined ? 2 : 0
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`)
    return 0
  }
  const cmd = commands[name]
  if (cmd === undefined) throw new UsageError(`unknown command "${name}" (commands: ${Object.keys(commands).join(', ')})`)
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: { ...cmd.options, ...helpOption }, allowPositionals: true, strict: true })
  } catch (err) {
    throw new UsageError(`${(err as Error).message.split('\n')[0]}; usage: ${cmd.usage}`)
  }
  if (parsed.values['help'] === true) {
    process.stdout.write(`Usage: ${cmd.usage}\n\n${cmd.help}\n`)
    return 0
  }
  const [min, max] = cmd.positionals
  if (parsed.positionals.length < min || parsed.positionals.length > max) {
    throw new UsageError(`expected ${min === max ? min : `${min} to ${max}`} argument(s); usage: ${cmd.usage}`)
  }
  return cmd.run(parsed.values as Record<string, string | boolean | undefined>, parsed.positionals)
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`herald: ${err.message}\n`)
      process.exit(2)
    }
    const msg = err instanceof HeraldError ? `${err.message} (${err.code})` : err instanceof Error ? err.message : String(err)
    process.stderr.write(`herald: ${msg.replace(/\s*[\r\n]+\s*/g, ' ')}\n`) // one line, even for a multi-line remote error
    process.exit(1)
  },
)
