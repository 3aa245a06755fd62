import { Command, Option } from 'commander'
import { DEFAULT_CLIENT_PORT, DEFAULT_MAX_MESSAGE_BYTES } from '@herald/wire'
// @herald/node loads libp2p only when a relay starts: importing it here costs client commands little.
import { DEFAULT_LIMITS, DEFAULT_NETWORK, KeyFileError, devNetworkKey, readNetworkKeyFile, startRelay } from '@herald/node'
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
}

export function relayCommand(): Command {
  return new Command('relay')
    .usage('(--key-file F | --dev) [--network NAME] [--port 55555] [--listen MULTIADDR...] [--bootstrap MULTIADDR...] [--announce MULTIADDR...] [--no-mdns] [--dht] [--data-dir DIR] [--cloak] [--socket PATH] [--json]')
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
    .option('--json', 'print one JSON line on stdout when ready: {"event":"ready","peerId":"…","port":N,"addrs":["/ip4/…/tcp/…/p2p/…"]}')
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
  // Every option is checked before anything is printed: a usage error is one line on stderr.
  if (dev) process.stderr.write('herald: WARNING: --dev derives the network key from the network name: anyone can join this network. Use --key-file in production.\n')
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
  })
  // Signal handlers go in before the ready line: a SIGTERM right after it must stop gracefully.
  const stopped = untilSignal().then(async (sig) => {
    process.stderr.write(`herald: ${sig}: stopping\n`)
    await relay.stop().catch(() => {})
  })
  if (opts.json === true) {
    await writeOut(JSON.stringify({ event: 'ready', peerId: relay.nodeId, port: relay.port, addrs: relay.addrs() }) + '\n')
  } else {
    process.stderr.write(`herald: relay ${relay.nodeId} (network "${relay.network}") serving clients on 127.0.0.1:${relay.port}` +
      `${opts.socket !== undefined ? ` and ${opts.socket}` : ''}\n` +
      `herald: overlay addresses: ${relay.addrs().join(' ')}\nherald: Ctrl-C stops it\n`)
  }
  await stopped
}
