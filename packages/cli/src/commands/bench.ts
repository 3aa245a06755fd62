import { Command, Option } from 'commander'
import { runBench } from '../bench/run.js'
import type { BenchPattern, BenchPlan } from '../bench/plan.js'
import { formatReport } from '../bench/report.js'
import { integer, UsageError, withPortOption, writeOut } from '../util.js'

interface BenchOptions {
  port: number
  pub: number
  sub?: number
  clients: number
  concurrency: number
  reply: number
  size: number
  msgs?: number
  duration?: number
  json?: boolean
  progress: boolean
}

function seconds(v: string): number {
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0) throw new UsageError(`--duration must be a number of seconds > 0, got "${v}"`)
  return n
}

export function benchCommand(): Command {
  return withPortOption(new Command('bench'))
    .usage('(pub | sub | request) NAME [--pub N] [--sub N] [--clients N] [--concurrency N] [--reply N] [--size B] [--msgs N | --duration S] [--json] [--port N]')
    .description(`Measures a running relay (or network), like nats bench, with clients
in threads of their own:
  pub TOPIC        publishers (--pub) send --msgs events in all, or for
                   --duration, to subscribers (--sub): publish and delivery
                   rates, publish-to-delivery latency
  sub TOPIC        subscribers only, each until --msgs events arrive (or for
                   --duration): pair it with "herald bench pub TOPIC --sub 0"
                   elsewhere, e.g. on another relay
  request CLUSTER  clients (--clients) keep --concurrency requests in flight
                   each, --msgs in all or for --duration, answered by --reply
                   echo members the bench starts (0: the cluster's own ones):
                   request rate and round-trip latency
Live progress on stderr (on a terminal), then a table: messages, msg/s,
MiB/s, latency p50/p99/max, events lost or requests failed. Payloads of
8 bytes or more carry their send time.`)
    .argument('<PATTERN>', 'pub, sub or request')
    .argument('<NAME>', 'the topic (pub, sub) or cluster (request)')
    .option('--pub <N>', 'publishers (pub)', integer('pub', 1, 256), 1)
    .option('--sub <N>', 'subscribers (pub: default 1, 0 for none; sub: default 1)', integer('sub', 0, 256))
    .option('--clients <N>', 'requesting clients (request)', integer('clients', 1, 256), 1)
    .option('--concurrency <N>', 'requests in flight per client (request)', integer('concurrency', 1, 65_536), 1)
    .option('--reply <N>', 'echo members the bench starts (request; 0: use the members already there)', integer('reply', 0, 256), 1)
    .option('--size <B>', 'payload bytes of what is sent (pub, request; sub counts what arrives)', integer('size', 0, 16 * 1024 * 1024), 128)
    .option('--msgs <N>', 'messages in all (sub: per subscriber); default 100,000', integer('msgs', 1))
    .addOption(new Option('--duration <S>', 'run for S seconds instead of a number of messages').argParser(seconds))
    .option('--json', 'print the results as one JSON object on stdout (instead of the table)')
    .option('--no-progress', 'no progress bars on stderr')
    .action(async (pattern: string, name: string, opts: BenchOptions) => {
      if (!['pub', 'sub', 'request'].includes(pattern)) throw new UsageError(`the pattern must be pub, sub or request, got "${pattern}"`)
      if (opts.msgs !== undefined && opts.duration !== undefined) throw new UsageError('give --msgs or --duration, not both')
      const p = pattern as BenchPattern
      const subscribers = opts.sub ?? 1
      if (p === 'sub' && subscribers < 1) throw new UsageError('herald bench sub needs at least one subscriber')
      const plan: BenchPlan = {
        pattern: p, name, port: opts.port, publishers: opts.pub, subscribers, clients: opts.clients, concurrency: opts.concurrency,
        repliers: opts.reply, size: opts.size, msgs: opts.duration === undefined ? (opts.msgs ?? 100_000) : undefined, seconds: opts.duration,
      }
      const report = await runBench(plan, { progress: opts.progress && opts.json !== true && process.stderr.isTTY === true })
      await writeOut(opts.json === true ? JSON.stringify(report) + '\n' : formatReport(report))
    })
}
