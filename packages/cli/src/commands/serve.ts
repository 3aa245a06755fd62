import { spawn } from 'node:child_process'
import { Command } from 'commander'
import { register } from '@herald/client'
import { integer, untilSignal, UsageError, withPortOption } from '../util.js'

export function serveCommand(): Command {
  return withPortOption(new Command('serve'))
    .usage('CLUSTER (--echo | --exec CMD) [--concurrency N] [--port N]')
    .description(`Joins CLUSTER as a member and answers requests until Ctrl-C.
Broadcasts are printed on stdout, one line each. Says "serving" on stderr once registered.`)
    .argument('<CLUSTER>')
    .option('--echo', 'answer each request with its own bytes')
    .option('--exec <CMD>', 'run CMD (through sh -c) with the request on stdin; its stdout is the reply, a non-zero exit becomes a remote error carrying the last line of its stderr')
    .option('--concurrency <N>', 'requests handled at once', integer('concurrency', 1), 16)
    .action(async (cluster: string, opts: { port: number; echo?: boolean; exec?: string; concurrency: number }) => {
      const exec = opts.exec
      if ((opts.echo === true) === (exec !== undefined)) throw new UsageError('give exactly one of --echo or --exec CMD')
      const svc = await register({
        port: opts.port,
        cluster,
        limits: { requestConcurrency: opts.concurrency },
        handler: {
          handleRequest: (req) => (exec === undefined ? req : runExec(exec, req)),
          handleBroadcast: (msg) => { process.stdout.write(Buffer.concat([msg, Buffer.from('\n')])) },
          handleDrop: (reason) => {
            process.stderr.write(`herald: lost the relay: ${reason.message}\n`)
            process.exit(1)
          },
        },
      })
      process.stderr.write(`herald: serving "${cluster}"\n`)
      await untilSignal()
      await svc.close()
    })
}

/** Runs `cmd` through sh -c with `input` on stdin: its stdout, or an error with the last line of its stderr. */
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
