import { Command, InvalidArgumentError, Option } from 'commander'
import { DEFAULT_CLIENT_PORT, DEFAULT_MAX_MESSAGE_BYTES } from '@herald/wire'
// @herald/node loads libp2p only when a relay starts: importing it here costs client commands little.
import { DEFAULT_LIMITS, DEFAULT_NETWORK, KeyFileError, devNetworkKey, isLogLevel, parseHostPort, readNetworkKeyFile, startRelay, type LogLevel } from '@herald/node'
import { createLogger, LOG_FORMATS, type LogFormat } from '../logging.js'
import { integer, UsageError, untilSignal, writeOut } from '../util.js'

const collect = (v: string, all: string[] = []): string[] => [...all, v]

interface RelayOptions {
  dev?: boolean
  keyFile?: string
  network: string
  port: number
  listen?: string[]
  bootstrap?: string[]
  announce?: string[]
  mdns?: boolean
  dht?: boolean
  dataDir?: string
  cloak?: boolean
  socket?: string
  maxMessage: number
  stallTimeout: number
  json?: boolean
  metrics?: string
  ui?: string
  logLevel: LogLevel
  logFormat: LogFormat
}

/** A HOST:PORT option, checked before anything starts (a malformed one is a usage error). */
function hostPort(name: string): (v: string) => string {
  return (v) => {
    if (parseHostPort(v) === undefined) throw new InvalidArgumentError(`--${name} must be HOST:PORT or PORT (loopback), e.g. 127.0.0.1:9464, [::1]:9464, 9464 (0 picks a port), got "${v}"`)
    return v
  }
}

export function relayCommand(): Command {
  return new Command('relay')
    .usage('(--key-file F | --dev) [--network NAME] [--port 55555] [--listen MULTIADDR...] [--bootstrap MULTIADDR...] [--announce MULTIADDR...] [--no-mdns] [--dht] [--data-dir DIR] [--cloak] [--socket PATH] [--metrics [HOST:]PORT] [--ui [HOST:]PORT] [--log-level L] [--json]')
    .description(`Runs a relay node in the foreground until SIGINT/SIGTERM (then stops gracefully, exit 0).
Local clients connect to 127.0.0.1:PORT (loopback only) and, with --socket, to a Unix socket.
Relays of one network find each other (mDNS, --bootstrap) and keep a few of them as neighbors;
membership, failure detection and the directory spread from neighbor to neighbor.`)
    .option('--key-file <F>', 'the network key (make one with `herald keygen`); relays without it cannot complete a connection with this one')
    .option('--dev', 'development mode: the key is derived from the network name (INSECURE), the overlay listens on loopback and mDNS is off unless --mdns')
    .option('--network <NAME>', 'network name; other names never merge', DEFAULT_NETWORK)
    .option('-p, --port <N>', 'client port (0 picks a free port)', integer('port', 0, 65535), DEFAULT_CLIENT_PORT)
    .option('--listen <MA>', 'overlay listen address, repeatable (default /ip4/0.0.0.0/tcp/0, with --dev /ip4/127.0.0.1/tcp/0)', collect)
    .option('--bootstrap <MA>', 'overlay address of a relay to join (with /p2p/<peer id>), repeatable', collect)
    .option('--announce <MA>', 'overlay address other relays should dial instead of the listen addresses (a proxy, NAT), repeatable', collect)
    .option('--mdns', 'discover by mDNS even with --dev')
    .option('--no-mdns', 'do not discover relays on the LAN by mDNS (on by default without --dev)')
    .option('--dht', 'also run a private kad-dht: clusters are found by provider records even before the directory knows them')
    .option('--data-dir <DIR>', "keep the relay's peer identity in DIR (file mode 0600) across restarts")
    .option('--cloak', 'also wrap overlay connections in a pre-shared-key cipher (@libp2p/pnet), hiding even the libp2p handshake; about half the throughput')
    .option('--socket <PATH>', 'also serve clients on a Unix socket, created with mode 0600')
    .addOption(new Option('--max-message <N>', 'largest message in bytes').argParser(integer('max-message', 1)).default(DEFAULT_MAX_MESSAGE_BYTES, '16 MiB'))
    .option('--stall-timeout <MS>', 'close a client whose partial frame stalls this long', integer('stall-timeout', 1), DEFAULT_LIMITS.stallTimeoutMs)
    .option('--metrics <[HOST:]PORT>', 'serve Prometheus metrics on http://HOST:PORT/metrics, with /healthz and /readyz (HOST: 127.0.0.1 unless given; port 0 picks one)', hostPort('metrics'))
    .option('--ui <[HOST:]PORT>', 'serve the live dashboard on http://HOST:PORT/ (HOST: 127.0.0.1 unless given; the same address as --metrics shares its listener)', hostPort('ui'))
    .addOption(new Option('--log-level <L>', 'log events at this level and above').choices(['error', 'warn', 'info', 'debug']).default('info'))
    .addOption(new Option('--log-format <F>', 'log lines on stderr: json (one object per line), pretty (readable), auto (pretty on a terminal)').choices([...LOG_FORMATS]).default('auto'))
    .option('--json', 'print one JSON line on stdout when ready: {"event":"ready","peerId":"…","port":N,"addrs":["/ip4/…/tcp/…/p2p/…"]} (with "metrics" and "ui" URLs when served)')
    .action((opts: RelayOptions) => runRelay(opts))
}

async function runRelay(opts: RelayOptions): Promise<void> {
  const dev = opts.dev === true
  if (dev === (opts.keyFile !== undefined)) {
    throw new UsageError(dev ? 'give --key-file or --dev, not both' : 'a relay needs the network key: --key-file F (see `herald keygen`), or --dev for an insecure development relay')
  }
  let networkKey: Uint8Array
  try {
    networkKey = opts.keyFile !== undefined ? readNetworkKeyFile(opts.keyFile) : devNetworkKey(opts.network)
  } catch (err) {
    if (err instanceof KeyFileError) throw new UsageError(err.message)
    throw err
  }
  const bootstrap = opts.bootstrap ?? []
  for (const b of bootstrap) if (!/\/p2p\/[A-Za-z0-9]+$/.test(b)) throw new UsageError(`--bootstrap ${b}: the address must end with /p2p/<peer id>`)
  for (const a of opts.announce ?? []) if (!a.startsWith('/')) throw new UsageError(`--announce ${a}: not a multiaddr (e.g. /ip4/10.0.0.5/tcp/4001)`)
  if (!isLogLevel(opts.logLevel)) throw new UsageError(`--log-level ${String(opts.logLevel)}: one of error, warn, info, debug`)
  // Every option is checked before anything is printed: a usage error is one line on stderr.
  const logger = createLogger({ level: opts.logLevel, format: opts.logFormat })
  if (dev) {
    logger.warn({ event: 'relay.dev_key', network: opts.network },
      'WARNING: --dev derives the network key from the network name: anyone can join this network. Use --key-file in production.')
  }
  const relay = await startRelay({
    port: opts.port,
    network: opts.network,
    networkKey,
    listen: opts.listen ?? [dev ? '/ip4/127.0.0.1/tcp/0' : '/ip4/0.0.0.0/tcp/0'],
    bootstrap,
    ...(opts.announce !== undefined ? { announce: opts.announce } : {}),
    mdns: opts.mdns ?? !dev,
    dht: opts.dht === true,
    ...(opts.dataDir !== undefined ? { dataDir: opts.dataDir } : {}),
    cloak: opts.cloak === true,
    ...(opts.socket !== undefined ? { socketPath: opts.socket } : {}),
    maxMessageBytes: opts.maxMessage,
    stallTimeoutMs: opts.stallTimeout,
    logger,
    ...(opts.metrics !== undefined ? { metrics: opts.metrics } : {}),
    ...(opts.ui !== undefined ? { ui: opts.ui } : {}),
  })
  // Signal handlers go in before the ready line: a SIGTERM right after it must stop gracefully.
  const stopped = untilSignal().then(async (sig) => {
    logger.info({ event: 'relay.signal', signal: sig }, `${sig}: stopping`)
    await relay.stop().catch(() => {})
    logger.info({ event: 'relay.stopped' }, 'stopped')
  })
  const urls = { ...(relay.metricsUrl !== undefined ? { metrics: relay.metricsUrl } : {}), ...(relay.uiUrl !== undefined ? { ui: relay.uiUrl } : {}) }
  logger.info({ event: 'relay.ready', peerId: relay.nodeId, network: relay.network, port: relay.port, socket: opts.socket, addrs: relay.addrs(), ...urls },
    `relay ${relay.nodeId} (network "${relay.network}") serving clients on 127.0.0.1:${relay.port}${opts.socket !== undefined ? ` and ${opts.socket}` : ''}; ` +
    `overlay ${relay.addrs().join(' ')}` +
    `${urls.metrics !== undefined ? `; metrics ${urls.metrics}/metrics` : ''}${urls.ui !== undefined ? `; dashboard ${urls.ui}/` : ''}`)
  if (opts.json === true) {
    await writeOut(JSON.stringify({ event: 'ready', peerId: relay.nodeId, port: relay.port, addrs: relay.addrs(), ...urls }) + '\n')
  }
  await stopped
}
